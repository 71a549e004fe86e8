//! `stitch summary`: the model's table (see `crate::summary`).

use super::SummaryArgs;

pub(crate) fn run(a: SummaryArgs) -> Result<(), String> {
    if a.batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    let model = crate::models::build(&a.model, 0)?;
    println!("model {}", a.model);
    println!("{}", crate::summary::summarize(model.as_ref(), a.batch));
    Ok(())
}
