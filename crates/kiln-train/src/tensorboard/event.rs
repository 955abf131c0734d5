//! The protobuf messages of a TensorBoard event file, declared in Rust (prost), with only the
//! fields kiln writes: TensorFlow's `event.proto`, `summary.proto`, `tensor.proto` and
//! `tensor_shape.proto`, same field numbers.

/// `tensorflow.Event`: one record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The step the event belongs to (the x axis in TensorBoard).
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event holds.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// `Event.what`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// `file_version`: the first event of a file, `brain.Event:2` (TensorBoard then purges
    /// orphaned data only on an explicit restart, so tags on different step axes coexist).
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// `summary`: tagged values.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The tagged values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Value>,
}

/// `tensorflow.Summary.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// The series' name (`valid/accuracy`).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Which TensorBoard plugin shows it (text needs it).
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    /// The value.
    #[prost(oneof = "Kind", tags = "2, 4, 8")]
    pub kind: Option<Kind>,
}

/// `Summary.Value.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Kind {
    /// `simple_value`: a scalar.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// `image`: an encoded image.
    #[prost(message, tag = "4")]
    Image(Image),
    /// `tensor`: here, a string tensor of the text plugin.
    #[prost(message, tag = "8")]
    Tensor(TensorProto),
}

/// `tensorflow.Summary.Image`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    /// Pixels.
    #[prost(int32, tag = "1")]
    pub height: i32,
    /// Pixels.
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// 3 = RGB.
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    /// The PNG file's bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

/// `tensorflow.SummaryMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    /// The plugin.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
}

/// `tensorflow.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    /// `text`.
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    /// The plugin's own settings (empty for text).
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// `tensorflow.TensorProto`, for a string tensor.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// `tensorflow.DataType`: 7 = `DT_STRING`.
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// The shape.
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShape>,
    /// The strings.
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub string_val: Vec<Vec<u8>>,
}

/// `tensorflow.TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShape {
    /// The dimensions.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<Dim>,
}

/// `tensorflow.TensorShapeProto.Dim`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dim {
    /// Its size.
    #[prost(int64, tag = "1")]
    pub size: i64,
}

/// `DT_STRING`.
const DT_STRING: i32 = 7;

impl Event {
    /// The first event of every file.
    pub fn file_version(wall_time: f64) -> Self {
        Self {
            wall_time,
            step: 0,
            what: Some(What::FileVersion("brain.Event:2".into())),
        }
    }

    /// One tagged value at `step`.
    pub fn value(wall_time: f64, step: i64, value: Value) -> Self {
        Self {
            wall_time,
            step,
            what: Some(What::Summary(Summary { value: vec![value] })),
        }
    }

    /// The tag of a one-value summary (`None` for the file version).
    pub fn tag(&self) -> Option<&str> {
        match &self.what {
            Some(What::Summary(s)) => s.value.first().map(|v| v.tag.as_str()),
            _ => None,
        }
    }
}

impl Value {
    /// A scalar.
    pub fn scalar(tag: &str, value: f32) -> Self {
        Self {
            tag: tag.into(),
            metadata: None,
            kind: Some(Kind::SimpleValue(value)),
        }
    }

    /// A PNG image of `width` × `height` RGB pixels.
    pub fn png(tag: &str, png: Vec<u8>, (width, height): (u32, u32)) -> Self {
        Self {
            tag: tag.into(),
            metadata: None,
            kind: Some(Kind::Image(Image {
                height: height as i32,
                width: width as i32,
                colorspace: 3,
                encoded_image_string: png,
            })),
        }
    }

    /// Markdown text, shown by TensorBoard's text plugin.
    pub fn text(tag: &str, markdown: &str) -> Self {
        Self {
            tag: tag.into(),
            metadata: Some(SummaryMetadata {
                plugin_data: Some(PluginData {
                    plugin_name: "text".into(),
                    content: Vec::new(),
                }),
            }),
            kind: Some(Kind::Tensor(TensorProto {
                dtype: DT_STRING,
                tensor_shape: Some(TensorShape {
                    dim: vec![Dim { size: 1 }],
                }),
                string_val: vec![markdown.as_bytes().to_vec()],
            })),
        }
    }
}
