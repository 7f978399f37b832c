//! The guarantee matrix (DESIGN.md section 6): a seed sweep per cell of configurations
//! against fault classes, and what each cell showed: every anomaly with its verdict (allowed
//! by that configuration's contract, or a violation of it) and a seed that replays it. The
//! cells themselves are scenarios of the registry ([`crate::registry::matrix_cells`]).

pub use crate::registry::matrix_cells::{configurations, scenario, Configuration, FaultClass};
use crate::sweep::{self, SweepSummary};

/// What one cell showed over its seeds.
pub struct Cell {
    pub configuration: &'static str,
    pub setting: &'static str,
    pub faults: FaultClass,
    pub scenario: String,
    pub summary: SweepSummary,
}

/// Every cell, row by row.
pub struct Matrix {
    pub seeds_per_cell: u64,
    pub cells: Vec<Cell>,
}

/// Sweeps seeds `0..seeds_per_cell` in every cell, calling `progress` after each run.
pub fn run(seeds_per_cell: u64, progress: impl Fn() + Sync) -> Matrix {
    let seeds: Vec<u64> = (0..seeds_per_cell).collect();
    let mut cells = Vec::new();
    for configuration in configurations() {
        for faults in FaultClass::ALL {
            let scenario = scenario(&configuration, faults);
            let mut summary = SweepSummary::default();
            for result in sweep::sweep(&scenario, &seeds, |_| progress()) {
                summary.add(&result);
            }
            cells.push(Cell {
                configuration: configuration.name,
                setting: configuration.setting,
                faults,
                scenario: scenario.name,
                summary,
            });
        }
    }
    Matrix {
        seeds_per_cell,
        cells,
    }
}
