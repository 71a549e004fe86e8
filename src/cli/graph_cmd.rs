//! `stitch graph`: one forward pass and loss of a freshly built model as Graphviz DOT.

use crate::graph::Graph;
use crate::nn::Module;
use crate::Tensor;

use super::GraphArgs;

pub(crate) fn run(a: GraphArgs) -> Result<(), String> {
    if a.batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    let model = crate::models::build(&a.model, 0)?;
    model.train();
    // A fixed, non-constant batch so batch norm and ReLU see real variation.
    let n = a.batch * 28 * 28;
    let x = Tensor::from_vec(
        (0..n).map(|i| ((i * 37) % 255) as f32 / 255.0).collect(),
        &[a.batch, 1, 28, 28],
    );
    let targets: Vec<usize> = (0..a.batch).map(|i| i % 10).collect();
    let loss = model.forward(&x).cross_entropy(&targets);
    let graph = Graph::capture(&loss, &model.named_parameters());
    if a.grads {
        loss.backward();
    }
    print!("{}", graph.to_dot(a.grads));
    Ok(())
}
