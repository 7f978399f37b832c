//! A scenario's services: each one's name, replica count and code, and the topics they
//! write that the plain consumers read too. Code is Rust, so a scenario read from TOML has
//! no services.

use super::check::UserCheck;
use super::context::ServiceContext;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A service's code: called with a fresh context at each start of a replica.
pub type ServiceFn = Arc<dyn Fn(ServiceContext) -> Pin<Box<dyn Future<Output = ()>>> + Send + Sync>;

/// Replicas a service may have (node ids leave room for this many).
pub const MAX_REPLICAS: u32 = 19;
/// Services a scenario may have.
pub const MAX_SERVICES: usize = 100;

/// One service: `replicas` nodes named `{name}-1`... running `run`.
#[derive(Clone)]
pub struct ServiceSpec {
    pub name: String,
    pub replicas: u32,
    pub run: ServiceFn,
}

impl ServiceSpec {
    pub fn replica_names(&self) -> Vec<String> {
        (1..=self.replicas)
            .map(|r| format!("{}-{r}", self.name))
            .collect()
    }
}

impl fmt::Debug for ServiceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceSpec")
            .field("name", &self.name)
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ServiceSpec {
    /// The same code (one closure), name and replicas.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.replicas == other.replicas
            && Arc::ptr_eq(&self.run, &other.run)
    }
}

/// The services of a scenario (none unless built in Rust).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Services {
    pub list: Vec<ServiceSpec>,
    /// Topics the services write: the scenario's plain consumers read them too, so that
    /// the checkers see what the services' sends wrote.
    pub outputs: Vec<String>,
    /// The user's own checks over the run (`ScenarioBuilder::check`).
    pub checks: Vec<UserCheck>,
}

impl Services {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.outputs.is_empty() && self.checks.is_empty()
    }

    /// Every replica's node name, service by service.
    pub fn names(&self) -> Vec<String> {
        self.list
            .iter()
            .flat_map(ServiceSpec::replica_names)
            .collect()
    }

    /// Why the services cannot run, as (field, reason); `taken` are the other nodes'
    /// names and `topics` the scenario's topics.
    pub fn problem(&self, taken: &[String], topics: &[&str]) -> Option<(String, String)> {
        if self.list.len() > MAX_SERVICES {
            return Some((
                "services".into(),
                format!("at most {MAX_SERVICES}, got {}", self.list.len()),
            ));
        }
        for (i, service) in self.list.iter().enumerate() {
            let field = |name: &str| format!("services[{i}].{name}");
            let valid_name = !service.name.is_empty()
                && service
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return Some((
                    field("name"),
                    format!(
                        "`{}`: letters, digits and `_` only (replicas are named `{{name}}-1`...)",
                        service.name
                    ),
                ));
            }
            if !(1..=MAX_REPLICAS).contains(&service.replicas) {
                return Some((
                    field("replicas"),
                    format!("must be 1..={MAX_REPLICAS}, got {}", service.replicas),
                ));
            }
            if self.list[..i].iter().any(|s| s.name == service.name) {
                return Some((field("name"), format!("`{}` is used twice", service.name)));
            }
            if let Some(clash) = service
                .replica_names()
                .into_iter()
                .find(|n| taken.contains(n))
            {
                return Some((
                    field("name"),
                    format!("replica `{clash}` has the name of another node"),
                ));
            }
        }
        for (i, check) in self.checks.iter().enumerate() {
            if check.name.trim().is_empty() {
                return Some((format!("checks[{i}].name"), "must not be empty".into()));
            }
            if self.checks[..i].iter().any(|c| c.name == check.name) {
                return Some((
                    format!("checks[{i}].name"),
                    format!("`{}` is used twice", check.name),
                ));
            }
        }
        for (i, output) in self.outputs.iter().enumerate() {
            if !topics.contains(&output.as_str()) {
                return Some((
                    format!("service_outputs[{i}]"),
                    format!("`{output}` is not one of the scenario's topics"),
                ));
            }
        }
        None
    }
}
