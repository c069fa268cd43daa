//! A selected test case as the gate knows it before any run: its ID and, when it came from a
//! suite, its name and suite. The plan makes them; the scheduler and the report use them.

/// One selected test case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlannedCase {
    pub id: String,
    /// Known when the case came from a suite; otherwise learned from the run.
    pub name: Option<String>,
    pub suite_id: Option<String>,
    pub suite_name: Option<String>,
}
