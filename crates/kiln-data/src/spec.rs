//! Datasets described as data: format, file names, checksums, mirrors, class names and
//! normalization.
//!
//! Adding an IDX-format or CIFAR-format dataset means adding one [`DatasetSpec`] to
//! [`DatasetName::spec`], not writing a loader.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::batch::Normalization;
use crate::checksum::Checksum;
use crate::cifar::CifarKind;
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
    /// CIFAR-10: 32×32 colour images of 10 classes.
    Cifar10,
    /// CIFAR-100 with its 100 fine labels.
    Cifar100,
}

impl DatasetName {
    /// Every known dataset, in the order `--help` lists them.
    pub const ALL: [DatasetName; 5] = [
        Self::Mnist,
        Self::FashionMnist,
        Self::Kmnist,
        Self::Cifar10,
        Self::Cifar100,
    ];

    /// The dataset's table entry.
    pub fn spec(self) -> &'static DatasetSpec {
        match self {
            Self::Mnist => &MNIST,
            Self::FashionMnist => &FASHION_MNIST,
            Self::Kmnist => &KMNIST,
            Self::Cifar10 => &CIFAR10,
            Self::Cifar100 => &CIFAR100,
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
    /// File name on the mirrors (a gzip-compressed IDX file, or a CIFAR `.tar.gz`).
    pub name: &'static str,
    /// Digest of the canonical file, checked after every download and on cached copies.
    pub checksum: Checksum,
    /// SHA-256 of the decompressed content, where known: it identifies a copy recompressed
    /// by a distribution package (Debian's `gzip -n` drops the name from the header) or
    /// decompressed by the user.
    pub raw_sha256: Option<&'static str>,
}

impl FileSpec {
    /// The file name without `.gz`, as it is after `gunzip`.
    pub fn raw_name(&self) -> &'static str {
        self.name.strip_suffix(".gz").unwrap_or(self.name)
    }
}

/// How a dataset is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetFormat {
    /// Four IDX files — training images, training labels, test images, test labels — each raw
    /// or `.gz` ([`DatasetSpec::files`] in that order).
    Idx,
    /// A CIFAR binary distribution ([`crate::cifar`]): one `.tar.gz` ([`DatasetSpec::files`]),
    /// used as it is or extracted.
    Cifar(CifarKind),
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

/// Everything kiln needs to know about one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    /// Name used on the command line and as the directory name (`mnist`, `cifar10`, ...).
    pub name: &'static str,
    /// How the files are stored.
    pub format: DatasetFormat,
    /// Base URLs tried in order; each file is `<mirror><file name>`.
    pub mirrors: &'static [&'static str],
    /// The canonical files (see [`DatasetFormat`] for their roles).
    pub files: &'static [FileSpec],
    /// Colour channels: 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// Image height and width in pixels.
    pub image_size: [usize; 2],
    /// Class names, indexed by label.
    pub class_names: &'static [&'static str],
    /// Per-channel mean of the training pixels scaled to [0, 1] (the first `channels` are used).
    pub mean: [f32; 3],
    /// Per-channel standard deviation of the training pixels scaled to [0, 1].
    pub std: [f32; 3],
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

    /// The canonical files.
    pub fn all_files(&self) -> impl Iterator<Item = FileSpec> + '_ {
        self.files.iter().copied()
    }
}

const fn file(name: &'static str, sha256: &'static str) -> FileSpec {
    FileSpec {
        name,
        checksum: Checksum::Sha256(sha256),
        raw_sha256: None,
    }
}

/// A file whose decompressed content's SHA-256 is known too.
const fn file_with_content(
    name: &'static str,
    sha256: &'static str,
    raw_sha256: &'static str,
) -> FileSpec {
    FileSpec {
        raw_sha256: Some(raw_sha256),
        ..file(name, sha256)
    }
}

const DIGITS: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// MNIST (LeCun, Cortes, Burges). Mirrors as torchvision's.
pub static MNIST: DatasetSpec = DatasetSpec {
    name: "mnist",
    mirrors: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    format: DatasetFormat::Idx,
    channels: 1,
    files: &[
        file(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        file(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
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
    mean: [0.1307; 3],
    std: [0.3081; 3],
};

/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017). The content digests are those of the files in
/// Debian's `dataset-fashion-mnist` (upstream git 55506a9), whose `.gz` files are the canonical
/// streams recompressed without the original file name (24 bytes shorter).
pub static FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: "fashion-mnist",
    mirrors: &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    format: DatasetFormat::Idx,
    channels: 1,
    files: &[
        file_with_content(
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        file_with_content(
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        file_with_content(
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        file_with_content(
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
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
    mean: [0.2860; 3],
    std: [0.3530; 3],
};

/// Kuzushiji-MNIST (Clanuwat et al. 2018), ROIS-CODH release.
pub static KMNIST: DatasetSpec = DatasetSpec {
    name: "kmnist",
    mirrors: &["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
    format: DatasetFormat::Idx,
    channels: 1,
    files: &[
        file(
            "train-images-idx3-ubyte.gz",
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
        ),
        file(
            "train-labels-idx1-ubyte.gz",
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
        ),
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
    mean: [0.1918; 3],
    std: [0.3483; 3],
};

const CIFAR_MIRRORS: &[&str] = &["https://www.cs.toronto.edu/~kriz/"];

/// CIFAR-10 (Krizhevsky 2009), the binary version (the authors publish MD5 digests only).
pub static CIFAR10: DatasetSpec = DatasetSpec {
    name: "cifar10",
    format: DatasetFormat::Cifar(CifarKind::Cifar10),
    mirrors: CIFAR_MIRRORS,
    files: &[FileSpec {
        name: "cifar-10-binary.tar.gz",
        checksum: Checksum::Md5("c32a1d4ab5d03f1284b67883e8d87530"),
        raw_sha256: None,
    }],
    channels: 3,
    image_size: [32, 32],
    class_names: &[
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ],
    // The training set's per-channel statistics (as torchvision recipes use).
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.2470, 0.2435, 0.2616],
};

/// CIFAR-100 (Krizhevsky 2009), the binary version, fine labels.
pub static CIFAR100: DatasetSpec = DatasetSpec {
    name: "cifar100",
    format: DatasetFormat::Cifar(CifarKind::Cifar100Fine),
    mirrors: CIFAR_MIRRORS,
    files: &[FileSpec {
        name: "cifar-100-binary.tar.gz",
        checksum: Checksum::Md5("03b5dce01913d631647c71ecec9e9cb8"),
        raw_sha256: None,
    }],
    channels: 3,
    image_size: [32, 32],
    class_names: &CIFAR100_FINE,
    mean: [0.5071, 0.4865, 0.4409],
    std: [0.2673, 0.2564, 0.2762],
};

/// CIFAR-100's fine labels, in label order (`fine_label_names.txt`).
const CIFAR100_FINE: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

#[cfg(test)]
#[path = "tests/spec.rs"]
mod tests;
