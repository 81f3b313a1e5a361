//! Desired state: manifest types, loading and resolution.
