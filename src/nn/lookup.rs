//! Who is who in a trace: which module, and which parameters, each traced op belongs to.
//!
//! An op that consumed a parameter belongs to the module that owns it (`layers.0.conv1` for
//! `layers.0.conv1.weight`): that holds for any model. An op without parameters (a ReLU, an
//! addition, a pooling) belongs to the innermost module a [`Sequential`](super::Sequential)
//! announced while it ran ([`OpRecord::modules`]); ops a model's own `forward` runs on
//! tensors directly have no module and are named by their op.

use std::collections::HashMap;

use super::Module;
use crate::autograd::trace::{module_key, OpRecord};
use crate::Real;

/// The modules and parameters of one model, by trace key and tensor id.
pub struct ModuleMap<'a, T: Real> {
    by_key: HashMap<usize, (String, &'a dyn Module<T>)>,
    by_path: HashMap<String, &'a dyn Module<T>>,
    /// parameter id → (its dotted name, numel)
    params: HashMap<u64, (String, usize)>,
}

impl<'a, T: Real> ModuleMap<'a, T> {
    /// Every descendant of `model` and every parameter.
    pub fn new(model: &'a dyn Module<T>) -> Self {
        let mut by_key = HashMap::new();
        let mut by_path = HashMap::new();
        by_path.insert(String::new(), model);
        for (path, m) in model.named_modules() {
            by_key
                .entry(module_key(m))
                .or_insert_with(|| (path.clone(), m));
            by_path.insert(path, m);
        }
        let params = model
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (t.id(), (n, t.numel())))
            .collect();
        ModuleMap {
            by_key,
            by_path,
            params,
        }
    }

    /// The parameters among the op's inputs: (dotted name, element count).
    pub fn params_of(&self, rec: &OpRecord) -> Vec<(String, usize)> {
        rec.inputs
            .iter()
            .filter_map(|id| self.params.get(id).cloned())
            .collect()
    }

    /// The op's module: its path ("" for the model itself) and the module.
    pub fn owner(&self, rec: &OpRecord) -> Option<(String, &'a dyn Module<T>)> {
        if let Some((name, _)) = self.params_of(rec).first() {
            let path = match name.rfind('.') {
                Some(i) => name[..i].to_string(),
                None => String::new(),
            };
            if let Some(m) = self.by_path.get(&path) {
                return Some((path, *m));
            }
        }
        rec.modules
            .iter()
            .rev()
            .find_map(|k| self.by_key.get(k).cloned())
    }

    /// The module a trace knows by `key` ([`OpRecord::modules`]), with its path.
    pub fn by_key(&self, key: usize) -> Option<(String, &'a dyn Module<T>)> {
        self.by_key.get(&key).cloned()
    }

    /// "path Description" of the op's module, or the op's name.
    pub fn label(&self, rec: &OpRecord) -> String {
        match self.owner(rec) {
            Some((path, m)) if !path.is_empty() => format!("{path} {}", m.describe()),
            Some((_, m)) => m.describe(),
            None => rec.op.to_string(),
        }
    }
}
