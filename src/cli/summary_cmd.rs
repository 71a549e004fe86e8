//! `stitch summary`: the model's table (see `stitch::summary`).

use super::SummaryArgs;

pub fn run(a: SummaryArgs) -> Result<(), String> {
    if a.batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    let mut model = stitch::models::build(&a.model, 0)?;
    println!("model {}", a.model);
    println!("{}", stitch::summary::summarize(&mut model, a.batch));
    Ok(())
}
