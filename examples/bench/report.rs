//! The figures as they are measured (one line each) and, at the end, the README table.

/// One figure of one scenario.
#[derive(Debug)]
pub struct Row {
    scenario: String,
    figure: &'static str,
    value: String,
    target: String,
    pass: bool,
}

/// Prints one figure next to its bound or target and keeps it for the table.
pub fn row(scenario: &str, figure: &'static str, value: String, target: String, pass: bool) -> Row {
    println!(
        "  {figure:<28} {value:>14}   {target:<36} {}",
        if pass { "PASS" } else { "MISS" }
    );
    Row {
        scenario: scenario.to_owned(),
        figure,
        value,
        target,
        pass,
    }
}

/// The README table of every figure, and how many targets were met.
pub fn print_table(rows: &[Row], runs: usize, cores: usize) {
    println!();
    println!("README table (medians of {runs} runs, {cores} cores):");
    println!();
    println!("| scenario | figure | median | bound / target | result |");
    println!("| --- | --- | --- | --- | --- |");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            row.scenario,
            row.figure,
            row.value,
            row.target,
            if row.pass { "PASS" } else { "MISS" }
        );
    }
    let misses = rows.iter().filter(|r| !r.pass).count();
    println!();
    println!("{} of {} targets met", rows.len() - misses, rows.len());
}
