//! Datasets described as data: file names, checksums, mirrors, class names and normalization.
//!
//! Adding an IDX-format dataset means adding one [`DatasetSpec`] to [`DatasetName::spec`], not
//! writing a loader.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::batch::Normalization;
use crate::error::DataError;

/// The datasets kiln knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// MNIST handwritten digits.
    Mnist,
    /// Zalando's Fashion-MNIST clothing images.
    FashionMnist,
    /// Kuzushiji-MNIST cursive Japanese characters.
    Kmnist,
}

impl DatasetName {
    /// Every known dataset, in the order `--help` lists them.
    pub const ALL: [DatasetName; 3] = [Self::Mnist, Self::FashionMnist, Self::Kmnist];

    /// The dataset's table entry.
    pub fn spec(self) -> &'static DatasetSpec {
        match self {
            Self::Mnist => &MNIST,
            Self::FashionMnist => &FASHION_MNIST,
            Self::Kmnist => &KMNIST,
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec().name)
    }
}

impl FromStr for DatasetName {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.spec().name == s)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|d| d.spec().name).collect();
                DataError::InvalidRequest(format!(
                    "unknown dataset `{s}` (known: {})",
                    known.join(", ")
                ))
            })
    }
}

/// One file of a dataset, as its canonical mirrors serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    /// File name on the mirrors (gzip-compressed IDX).
    pub name: &'static str,
    /// SHA-256 of the canonical `.gz` file, checked after every download.
    pub sha256: &'static str,
}

impl FileSpec {
    /// The file name without `.gz`, as it is after `gunzip`.
    pub fn raw_name(&self) -> &'static str {
        self.name.strip_suffix(".gz").unwrap_or(self.name)
    }
}

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The training files.
    Train,
    /// The test files.
    Test,
}

/// Everything kiln needs to know about one IDX-family dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    /// Name used on the command line and as the directory name (`mnist`, `fashion-mnist`, ...).
    pub name: &'static str,
    /// Base URLs tried in order; each file is `<mirror><file name>`.
    pub mirrors: &'static [&'static str],
    /// Training images and labels.
    pub train: [FileSpec; 2],
    /// Test images and labels.
    pub test: [FileSpec; 2],
    /// Image height and width in pixels.
    pub image_size: [usize; 2],
    /// Class names, indexed by label.
    pub class_names: &'static [&'static str],
    /// Per-channel mean of the training pixels scaled to [0, 1].
    pub mean: f32,
    /// Per-channel standard deviation of the training pixels scaled to [0, 1].
    pub std: f32,
}

impl DatasetSpec {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The class names, owned (report and metric APIs take `&[String]`).
    pub fn class_name_list(&self) -> Vec<String> {
        self.class_names.iter().map(|s| s.to_string()).collect()
    }

    /// The dataset's normalization constants.
    pub fn normalization(&self) -> Normalization {
        Normalization {
            mean: self.mean,
            std: self.std,
        }
    }

    /// All four files, training first.
    pub fn all_files(&self) -> impl Iterator<Item = FileSpec> + '_ {
        self.train.iter().chain(self.test.iter()).copied()
    }
}

const fn file(name: &'static str, sha256: &'static str) -> FileSpec {
    FileSpec { name, sha256 }
}

const DIGITS: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// MNIST (LeCun, Cortes, Burges). Mirrors as torchvision's.
pub static MNIST: DatasetSpec = DatasetSpec {
    name: "mnist",
    mirrors: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    train: [
        file(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        file(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
    ],
    test: [
        file(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        file(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    ],
    image_size: [28, 28],
    class_names: DIGITS,
    mean: 0.1307,
    std: 0.3081,
};

/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017).
pub static FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: "fashion-mnist",
    mirrors: &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    train: [
        file(
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        ),
        file(
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        ),
    ],
    test: [
        file(
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        ),
        file(
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
    ],
    image_size: [28, 28],
    class_names: &[
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    mean: 0.2860,
    std: 0.3530,
};

/// Kuzushiji-MNIST (Clanuwat et al. 2018), ROIS-CODH release.
pub static KMNIST: DatasetSpec = DatasetSpec {
    name: "kmnist",
    mirrors: &["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
    train: [
        file(
            "train-images-idx3-ubyte.gz",
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
        ),
        file(
            "train-labels-idx1-ubyte.gz",
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
        ),
    ],
    test: [
        file(
            "t10k-images-idx3-ubyte.gz",
            "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
        ),
        file(
            "t10k-labels-idx1-ubyte.gz",
            "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
        ),
    ],
    image_size: [28, 28],
    class_names: &["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
    mean: 0.1918,
    std: 0.3483,
};

#[cfg(test)]
#[path = "tests/spec.rs"]
mod tests;
