//! `automl learners`: the learners a run can search, their tasks and how a run treats them, and
//! one learner's search space (the library's catalogue, printed).

use clap::Args;

use automl::space::learner_entries;
use automl::{Error, Result};

use super::output::{grid, print_json};

/// `automl learners [NAME] [--json]`.
#[derive(Args)]
#[command(after_help = "\
Examples:
  automl learners                      every learner: tasks, searched by default or only when named
  automl learners gbdt                 the search space of gbdt (its search/gbdt.toml, with defaults)
  automl learners --json               the same list for scripts

A run searches every learner marked 'yes' under 'default' unless --learners names others; a
learner marked 'when named' runs only when --learners (or a search space file's learners) names
it. Override a space with `automl run --search-space FILE` ([LEARNER.PARAM] tables).")]
pub struct LearnersArgs {
    /// Print this learner's search space file (its parameters, ranges, `init` defaults and
    /// `low_cost` starting values) instead of the list.
    #[arg(value_name = "NAME")]
    name: Option<String>,
    /// Print JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// Run `automl learners`.
pub fn learners(a: LearnersArgs) -> Result<()> {
    let all = learner_entries()?;
    if let Some(name) = &a.name {
        let Some(e) = all.iter().find(|e| &e.name == name) else {
            let known: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
            return Err(Error::Config(format!(
                "unknown learner '{name}' (known: {})",
                known.join(", ")
            )));
        };
        if a.json {
            let mut v = serde_json::to_value(e).map_err(|e| Error::Config(e.to_string()))?;
            v["space"] = serde_json::Value::String(e.space_text.to_string());
            return print_json(&v);
        }
        print!("# {}\n{}", e.space_file, e.space_text);
        return Ok(());
    }
    if a.json {
        return print_json(&all);
    }
    let mut t = grid(&["learner", "tasks", "default", "input", "description"]);
    t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    if t.width().is_none() {
        // Not a terminal (a pipe, a file): wrap descriptions at a readable width all the same.
        t.set_width(120);
    }
    for e in &all {
        let tasks: Vec<&str> = e.tasks.iter().map(|t| t.name()).collect();
        t.add_row(vec![
            e.name.clone(),
            tasks.join(", "),
            if e.by_default { "yes" } else { "when named" }.to_string(),
            if e.native_input { "raw" } else { "recipe" }.to_string(),
            e.description.clone(),
        ]);
    }
    println!("{t}");
    Ok(())
}
