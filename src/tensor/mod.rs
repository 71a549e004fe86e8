//! The tensor: a shape, a shared contiguous row-major buffer, and a place in the graph.
//!
//! A [`Tensor`] is a cheap handle (`Arc`) to a node. The node owns its shape and shares its
//! storage (`Arc<RwLock<Vec<T>>>`) with every view made from it: `reshape` and `flatten` of
//! a contiguous tensor create a new node over the same buffer and copy nothing. The storage
//! is behind a lock only so that optimizers can update parameters in place while the model
//! holds handles to them; kernels read through a guard that derefs to a plain slice.
//!
//! The element type is a generic parameter, `Tensor<f32>` (the default) for training and
//! `Tensor<f64>` for gradient checks. A generic rather than a runtime enum: the compiler
//! checks that an op never mixes the two, the kernels are monomorphized with no per-element
//! dispatch, and one implementation of each op serves both types.

mod display;
pub mod recycle;
pub(crate) mod shape;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rand::Rng;

use crate::autograd::GradNode;
use crate::Real;

pub use shape::numel;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// An n-dimensional array of `T` that can take part in automatic differentiation.
pub struct Tensor<T: Real = f32> {
    pub(crate) node: Arc<Node<T>>,
}

pub(crate) struct Node<T: Real> {
    pub(crate) id: u64,
    pub(crate) shape: Vec<usize>,
    pub(crate) storage: Arc<RwLock<Vec<T>>>,
    pub(crate) requires_grad: AtomicBool,
    /// Accumulated gradient of a leaf that requires grad.
    pub(crate) grad: Mutex<Option<Vec<T>>>,
    /// How this tensor was computed: `None` for leaves, and after `backward` has freed it.
    pub(crate) grad_fn: Mutex<Option<GradNode<T>>>,
    /// Created by an op that recorded a graph (as opposed to by the user).
    pub(crate) from_op: bool,
    /// Graph nodes holding this tensor as an input (see [`GradNode`]).
    pub(crate) edges: AtomicUsize,
    /// Those of them whose backward rule reads the elements.
    pub(crate) readers: AtomicUsize,
}

impl<T: Real> Drop for Node<T> {
    /// The last node over a storage gives its buffer back for recycling (see [`recycle`]).
    fn drop(&mut self) {
        if let Some(lock) = Arc::get_mut(&mut self.storage) {
            let data = lock.get_mut().unwrap_or_else(|e| e.into_inner());
            recycle::give(std::mem::take(data));
        }
    }
}

impl<T: Real> Clone for Tensor<T> {
    /// Another handle to the same tensor (same storage, same gradient).
    fn clone(&self) -> Self {
        Tensor {
            node: Arc::clone(&self.node),
        }
    }
}

impl<T: Real> Drop for Tensor<T> {
    /// When this handle is an op output's last one outside the graph, and every graph node
    /// still holding it has a rule that never reads its elements, the elements go now
    /// (back to the recycler) instead of living until backward; the tensor keeps its shape
    /// and its place in the graph. A view sharing the storage keeps them.
    fn drop(&mut self) {
        let n = &*self.node;
        if !n.from_op || n.readers.load(Ordering::Relaxed) != 0 {
            return;
        }
        let edges = n.edges.load(Ordering::Relaxed);
        if edges == 0 || Arc::strong_count(&self.node) != edges + 1 {
            return;
        }
        if Arc::strong_count(&n.storage) != 1 {
            return;
        }
        let mut data = n.storage.write().unwrap_or_else(|e| e.into_inner());
        if !data.is_empty() {
            recycle::give(std::mem::take(&mut *data));
        }
    }
}

/// A read guard over a tensor's elements; derefs to `&[T]`.
pub type DataRef<'a, T> = RwLockReadGuard<'a, Vec<T>>;
/// A write guard over a tensor's elements; derefs to `&mut [T]`.
pub type DataMut<'a, T> = RwLockWriteGuard<'a, Vec<T>>;

impl<T: Real> Tensor<T> {
    pub(crate) fn from_parts(
        storage: Arc<RwLock<Vec<T>>>,
        shape: Vec<usize>,
        requires_grad: bool,
        grad_fn: Option<GradNode<T>>,
    ) -> Self {
        let from_op = grad_fn.is_some();
        Tensor {
            node: Arc::new(Node {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                shape,
                storage,
                requires_grad: AtomicBool::new(requires_grad),
                grad: Mutex::new(None),
                grad_fn: Mutex::new(grad_fn),
                from_op,
                edges: AtomicUsize::new(0),
                readers: AtomicUsize::new(0),
            }),
        }
    }

    /// A tensor over `data` with `shape`; panics if the lengths disagree.
    #[track_caller]
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Self {
        match Self::try_from_vec(data, shape) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    /// As [`Tensor::from_vec`], returning an error instead of panicking.
    pub fn try_from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self, String> {
        let n = shape::checked_numel(shape)
            .ok_or_else(|| format!("from_vec: shape {shape:?} overflows usize"))?;
        if n != data.len() {
            return Err(format!(
                "from_vec: shape {shape:?} holds {n} elements, but the data has {}",
                data.len()
            ));
        }
        Ok(Self::from_parts(
            Arc::new(RwLock::new(data)),
            shape.to_vec(),
            false,
            None,
        ))
    }

    /// A one-element tensor of shape `[]`.
    pub fn scalar(v: T) -> Self {
        Self::from_vec(vec![v], &[])
    }

    /// Every element `v`.
    pub fn full(shape: &[usize], v: T) -> Self {
        Self::from_vec(vec![v; numel(shape)], shape)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::ZERO)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::ONE)
    }

    /// Elements drawn uniformly from `[low, high)` with the caller's generator.
    pub fn rand_uniform(shape: &[usize], low: f64, high: f64, rng: &mut impl Rng) -> Self {
        let data = (0..numel(shape))
            .map(|_| T::from_f64(low + (high - low) * rng.gen::<f64>()))
            .collect();
        Self::from_vec(data, shape)
    }

    /// Elements drawn from a normal distribution N(mean, std²) with the caller's generator
    /// (Box–Muller: two uniforms give two independent normals).
    pub fn randn(shape: &[usize], mean: f64, std: f64, rng: &mut impl Rng) -> Self {
        let n = numel(shape);
        let mut data = Vec::with_capacity(n + 1);
        while data.len() < n {
            // 1 - u keeps the logarithm's argument in (0, 1].
            let u1 = 1.0 - rng.gen::<f64>();
            let u2 = rng.gen::<f64>();
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = 2.0 * std::f64::consts::PI * u2;
            data.push(T::from_f64(mean + std * r * theta.cos()));
            data.push(T::from_f64(mean + std * r * theta.sin()));
        }
        data.truncate(n);
        Self::from_vec(data, shape)
    }

    /// The sizes of the dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.node.shape
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.node.shape.len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.node.shape)
    }

    /// A read guard over the elements (a `&[T]` through deref).
    pub fn data(&self) -> DataRef<'_, T> {
        self.node.storage.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A write guard over the elements: for optimizers and in-place initialisation. Writing
    /// to a tensor whose graph has not been walked yet changes what its backward will see.
    pub fn data_mut(&self) -> DataMut<'_, T> {
        self.node.storage.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the elements.
    pub fn to_vec(&self) -> Vec<T> {
        self.data().clone()
    }

    /// The value of a one-element tensor; panics otherwise.
    #[track_caller]
    pub fn item(&self) -> T {
        assert!(
            self.numel() == 1,
            "item: tensor of shape {:?} has {} elements, expected 1",
            self.shape(),
            self.numel()
        );
        self.data()[0]
    }

    /// A unique id of this node (views have their own ids).
    pub fn id(&self) -> u64 {
        self.node.id
    }

    /// Whether two handles share one storage buffer.
    pub fn shares_storage(&self, other: &Tensor<T>) -> bool {
        Arc::ptr_eq(&self.node.storage, &other.node.storage)
    }

    pub(crate) fn storage(&self) -> Arc<RwLock<Vec<T>>> {
        Arc::clone(&self.node.storage)
    }

    /// A handle to the shared element buffer (for tests of memory release: hold a `Weak`).
    pub fn storage_handle(&self) -> Arc<RwLock<Vec<T>>> {
        self.storage()
    }

    /// Whether gradients flow to or through this tensor.
    pub fn requires_grad(&self) -> bool {
        self.node.requires_grad.load(Ordering::Relaxed)
    }

    /// Marks a leaf tensor as a parameter whose gradient `backward` accumulates.
    /// Panics on a tensor computed by a recorded op (as PyTorch does).
    #[track_caller]
    pub fn set_requires_grad(&self, on: bool) {
        assert!(
            !self.node.from_op,
            "set_requires_grad: only leaf tensors can change requires_grad; use detach() first"
        );
        self.node.requires_grad.store(on, Ordering::Relaxed);
    }

    /// Chainable form of [`Tensor::set_requires_grad`]`(true)`.
    #[track_caller]
    pub fn requires_grad_(self) -> Self {
        self.set_requires_grad(true);
        self
    }

    /// Whether this tensor was made by the user rather than recorded by an op.
    pub fn is_leaf(&self) -> bool {
        !self.node.from_op
    }

    /// The accumulated gradient of a leaf, as a new tensor of the same shape.
    pub fn grad(&self) -> Option<Tensor<T>> {
        self.grad_lock()
            .as_ref()
            .map(|g| Tensor::from_vec(g.clone(), self.shape()))
    }

    /// The gradient buffer itself, for optimizers.
    pub fn grad_lock(&self) -> MutexGuard<'_, Option<Vec<T>>> {
        self.node.grad.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the accumulated gradient (PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        let grad = self.grad_lock().take();
        if let Some(g) = grad {
            recycle::give(g);
        }
    }

    /// A tensor over the same storage with no graph: gradients stop here.
    pub fn detach(&self) -> Tensor<T> {
        Tensor::from_parts(self.storage(), self.shape().to_vec(), false, None)
    }

    /// The name of the op that produced this tensor, if a graph was recorded.
    pub fn grad_fn_name(&self) -> Option<&'static str> {
        self.node
            .grad_fn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|g| g.op.name())
    }

    /// The same values in another element type (a new leaf).
    pub fn cast<U: Real>(&self) -> Tensor<U> {
        let data = self
            .data()
            .iter()
            .map(|v| U::from_f64(v.to_f64()))
            .collect();
        Tensor::from_vec(data, self.shape())
    }

    /// Whether every element is finite.
    pub fn all_finite(&self) -> bool {
        self.data().iter().all(|v| v.is_finite())
    }
}
