//! `stitch eval`: accuracy, per-class accuracy and the confusion matrix of a checkpoint.

use crate::data::{FashionMnist, CLASS_NAMES};
use crate::train::{confusion_matrix, evaluate_with, most_confused};

use super::{setup, EvalArgs};

pub(crate) fn run(a: EvalArgs) -> Result<(), String> {
    setup(&a.run)?;
    let (name, ck, model) = super::export_cmd::load_model(&a.load, a.model.as_deref())?;
    let data = FashionMnist::locate_and_load(a.run.data.as_deref()).map_err(|e| e.to_string())?;
    // A recipe trained with --tta is scored as training scored it: each image with its mirror.
    let tta = ck.get("tta") == Some("true");
    let ev = evaluate_with(model.as_ref(), &data.test, tta);
    let (loss, acc, preds) = (ev.loss, ev.accuracy, ev.predictions);
    println!(
        "{}: model {name}, epoch {}: test accuracy {acc:.2}% (loss {loss:.4}) on {} images{}",
        a.load.display(),
        ck.get("epoch").unwrap_or("?"),
        data.test.len(),
        if tta {
            ", each averaged with its mirror (the recipe's --tta)"
        } else {
            ""
        }
    );
    let confusion = confusion_matrix(&preds, &data.test.labels);
    println!("\nper-class accuracy:");
    for (c, row) in confusion.iter().enumerate() {
        let total: usize = row.iter().sum();
        println!(
            "  {:<12} {:6.2}%  ({}/{})",
            CLASS_NAMES[c],
            100.0 * row[c] as f64 / total.max(1) as f64,
            row[c],
            total
        );
    }
    println!("\nconfusion matrix (rows: true class, columns: predicted class, by number):");
    // Row labels as wide as the longest class name, so every name is whole and every column
    // lines up under its number.
    let label_width = 3 + CLASS_NAMES.iter().map(|n| n.len()).max().unwrap_or(0);
    let cell = 1 + confusion
        .iter()
        .flatten()
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(1)
        .max(4);
    print!("{:label_width$}", "");
    for c in 0..10 {
        print!("{c:>cell$}");
    }
    println!();
    for (c, row) in confusion.iter().enumerate() {
        print!("{:<label_width$}", format!("{c} {}", CLASS_NAMES[c]));
        for v in row {
            print!("{v:>cell$}");
        }
        println!();
    }
    println!("\nmost confused pairs (both directions):");
    for (n, a, b) in most_confused(&confusion, 5) {
        println!(
            "  {:<12} <-> {:<12} {n:>5}  ({} as {}, {} as {})",
            CLASS_NAMES[a],
            CLASS_NAMES[b],
            confusion[a][b],
            CLASS_NAMES[b],
            confusion[b][a],
            CLASS_NAMES[a]
        );
    }
    Ok(())
}
