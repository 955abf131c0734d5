//! Which of a run's three splits: training (minus validation), validation, test.

/// One of a run's three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalSplit {
    /// The training file minus the validation images.
    Train,
    /// The validation images held out of the training file.
    Valid,
    /// The test file.
    Test,
}

impl std::fmt::Display for EvalSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Train => "train",
            Self::Valid => "valid",
            Self::Test => "test",
        })
    }
}

impl std::str::FromStr for EvalSplit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "train" => Ok(Self::Train),
            "valid" | "validation" => Ok(Self::Valid),
            "test" => Ok(Self::Test),
            other => Err(format!("unknown split `{other}` (train, valid or test)")),
        }
    }
}
