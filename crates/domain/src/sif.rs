//! A defensive reader of the Singularity Image Format (SIF) header and descriptors.
//!
//! Layout (little endian): a 128-byte global header — 32-byte launch script, magic
//! `SIF_MAGIC\0`, 3-byte version, 3-byte architecture code, 16-byte id, then eight
//! int64s (created, modified, descriptors free/total/offset/size, data offset/size) —
//! followed at `descriptors_offset` by fixed 585-byte descriptors. Every number read
//! from the file is checked against the file size before it is used.

use crate::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

pub const HEADER_LEN: usize = 128;
pub const DESCRIPTOR_LEN: usize = 585;
/// Most descriptors read from one file.
pub const MAX_DESCRIPTORS: i64 = 4096;
/// Largest definition file or label set copied out of an image.
pub const MAX_TEXT_OBJECT: i64 = 256 * 1024;
/// Objects listed in a stored summary at most (an image may have up to `MAX_DESCRIPTORS`).
pub const MAX_LISTED_OBJECTS: usize = 256;

const MAGIC: &[u8] = b"SIF_MAGIC\0";

pub const DT_DEFFILE: i32 = 0x4001;
pub const DT_ENVVAR: i32 = 0x4002;
pub const DT_LABELS: i32 = 0x4003;
pub const DT_PARTITION: i32 = 0x4004;
pub const DT_SIGNATURE: i32 = 0x4005;
pub const DT_GENERIC_JSON: i32 = 0x4006;
pub const DT_GENERIC: i32 = 0x4007;
pub const DT_CRYPTO_MESSAGE: i32 = 0x4008;
pub const DT_SBOM: i32 = 0x4009;
pub const DT_OCI_ROOT_INDEX: i32 = 0x400a;
pub const DT_OCI_BLOB: i32 = 0x400b;

fn bad(m: impl Into<String>) -> Error {
    Error::new(ErrorKind::Invalid, format!("not a valid SIF image: {}", m.into()))
}

fn le_i64(b: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn le_i32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Maps a SIF architecture code to the Go/OCI architecture name.
pub fn arch_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "386",
        "02" => "amd64",
        "03" => "arm",
        "04" => "arm64",
        "05" => "ppc64",
        "06" => "ppc64le",
        "07" => "mips",
        "08" => "mipsle",
        "09" => "mips64",
        "10" => "mips64le",
        "11" => "s390x",
        "12" => "riscv64",
        _ => return None,
    })
}

pub fn data_type_name(t: i32) -> &'static str {
    match t {
        DT_DEFFILE => "deffile",
        DT_ENVVAR => "envvar",
        DT_LABELS => "labels",
        DT_PARTITION => "partition",
        DT_SIGNATURE => "signature",
        DT_GENERIC_JSON => "generic-json",
        DT_GENERIC => "generic",
        DT_CRYPTO_MESSAGE => "crypto-message",
        DT_SBOM => "sbom",
        DT_OCI_ROOT_INDEX => "oci-root-index",
        DT_OCI_BLOB => "oci-blob",
        _ => "unknown",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    pub version: String,
    pub arch_code: String,
    pub id: String,
    pub created_at: i64,
    pub modified_at: i64,
    pub descriptors_total: i64,
    pub descriptors_offset: i64,
    pub descriptors_size: i64,
    pub data_offset: i64,
    pub data_size: i64,
}

impl Header {
    /// Parses and checks the global header of a file of `file_size` bytes.
    pub fn parse(b: &[u8], file_size: u64) -> Result<Header> {
        if b.len() < HEADER_LEN {
            return Err(bad("shorter than the 128-byte header"));
        }
        if &b[32..42] != MAGIC {
            return Err(bad("missing SIF_MAGIC"));
        }
        let id = &b[48..64];
        let id = format!(
            "{}-{}-{}-{}-{}",
            hex::encode(&id[0..4]),
            hex::encode(&id[4..6]),
            hex::encode(&id[6..8]),
            hex::encode(&id[8..10]),
            hex::encode(&id[10..16])
        );
        let h = Header {
            version: cstr(&b[42..45]),
            arch_code: cstr(&b[45..48]),
            id,
            created_at: le_i64(b, 64),
            modified_at: le_i64(b, 72),
            descriptors_total: le_i64(b, 88),
            descriptors_offset: le_i64(b, 96),
            descriptors_size: le_i64(b, 104),
            data_offset: le_i64(b, 112),
            data_size: le_i64(b, 120),
        };
        let fs = file_size as i64;
        if !(0..=MAX_DESCRIPTORS).contains(&h.descriptors_total) {
            return Err(bad(format!("implausible descriptor count {}", h.descriptors_total)));
        }
        let need = h.descriptors_total * DESCRIPTOR_LEN as i64;
        if h.descriptors_offset < HEADER_LEN as i64 || h.descriptors_offset.checked_add(need).is_none_or(|end| end > fs)
        {
            return Err(bad("descriptor table lies outside the file"));
        }
        Ok(h)
    }

    /// Byte range of the descriptor table.
    pub fn descriptor_range(&self) -> std::ops::Range<u64> {
        let start = self.descriptors_offset as u64;
        start..start + (self.descriptors_total as u64) * DESCRIPTOR_LEN as u64
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Descriptor {
    pub data_type: i32,
    pub id: u32,
    pub group_id: u32,
    pub linked_id: u32,
    pub offset: i64,
    pub size: i64,
    pub name: String,
    /// Partitions: file system type, partition type, architecture code.
    pub fs_type: Option<i32>,
    pub part_type: Option<i32>,
    pub arch_code: Option<String>,
}

/// Parses the used descriptors of a table; each must point inside the file.
pub fn parse_descriptors(b: &[u8], file_size: u64) -> Result<Vec<Descriptor>> {
    let mut out = Vec::new();
    for raw in b.chunks_exact(DESCRIPTOR_LEN) {
        if raw[4] == 0 {
            continue; // unused slot
        }
        let data_type = le_i32(raw, 0);
        let offset = le_i64(raw, 17);
        let size = le_i64(raw, 25);
        if offset < 0 || size < 0 || offset.checked_add(size).is_none_or(|e| e as u64 > file_size) {
            return Err(bad(format!("object {} lies outside the file", le_u32(raw, 5))));
        }
        let extra = &raw[201..];
        let (fs_type, part_type, arch_code) = if data_type == DT_PARTITION {
            (Some(le_i32(extra, 0)), Some(le_i32(extra, 4)), Some(cstr(&extra[8..11])))
        } else {
            (None, None, None)
        };
        out.push(Descriptor {
            data_type,
            id: le_u32(raw, 5),
            group_id: le_u32(raw, 9) & 0x0fff_ffff,
            linked_id: le_u32(raw, 13) & 0x0fff_ffff,
            offset,
            size,
            name: cstr(&raw[73..201]),
            fs_type,
            part_type,
            arch_code,
        });
    }
    Ok(out)
}

pub fn fs_type_name(t: i32) -> &'static str {
    match t {
        1 => "squashfs",
        2 => "ext3",
        3 => "immutable-object",
        4 => "raw",
        5 => "encrypted-squashfs",
        _ => "unknown",
    }
}

pub fn part_type_name(t: i32) -> &'static str {
    match t {
        1 => "system",
        2 => "primary-system",
        3 => "data",
        4 => "overlay",
        _ => "unknown",
    }
}

/// What Gantry shows of a SIF image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SifInfo {
    pub id: String,
    pub version: String,
    pub architecture: Option<String>,
    pub created: i64,
    pub modified: i64,
    pub definition: Option<String>,
    pub labels: Option<serde_json::Value>,
    pub partitions: Vec<SifPartition>,
    pub objects: Vec<SifObject>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SifPartition {
    pub id: u32,
    pub fs_type: String,
    pub part_type: String,
    pub architecture: Option<String>,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SifObject {
    pub id: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub size: i64,
}

impl SifInfo {
    /// Builds the summary from header and descriptors. `text_of` returns the bytes of a
    /// small object (definition file, labels) when they were read.
    pub fn build(h: &Header, ds: &[Descriptor], text_of: impl Fn(&Descriptor) -> Option<Vec<u8>>) -> SifInfo {
        let partitions: Vec<SifPartition> = ds
            .iter()
            .filter(|d| d.data_type == DT_PARTITION)
            .map(|d| SifPartition {
                id: d.id,
                fs_type: fs_type_name(d.fs_type.unwrap_or(0)).into(),
                part_type: part_type_name(d.part_type.unwrap_or(0)).into(),
                architecture: d.arch_code.as_deref().and_then(arch_name).map(str::to_string),
                size: d.size,
            })
            .collect();
        // The header's code is often "00"; the system partition then says what it is.
        let architecture = arch_name(&h.arch_code).map(str::to_string).or_else(|| {
            let primary = partitions.iter().find(|p| p.part_type == "primary-system");
            let system = partitions.iter().find(|p| p.part_type == "system");
            primary.or(system).and_then(|p| p.architecture.clone())
        });
        let definition = ds
            .iter()
            .find(|d| d.data_type == DT_DEFFILE)
            .and_then(&text_of)
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let labels = ds
            .iter()
            .find(|d| d.data_type == DT_LABELS)
            .and_then(&text_of)
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter(|v| v.is_object());
        SifInfo {
            id: h.id.clone(),
            version: h.version.clone(),
            architecture,
            created: h.created_at,
            modified: h.modified_at,
            definition,
            labels,
            partitions,
            // The summary is stored with the image: its list of objects is bounded too.
            objects: ds
                .iter()
                .take(MAX_LISTED_OBJECTS)
                .map(|d| SifObject { id: d.id, kind: data_type_name(d.data_type).into(), size: d.size })
                .collect(),
        }
    }
}

/// Descriptors whose data Gantry reads into the summary.
pub fn wants_text(d: &Descriptor) -> bool {
    (d.data_type == DT_DEFFILE || d.data_type == DT_LABELS) && d.size <= MAX_TEXT_OBJECT
}

/// The objects the summary shows, and so the only ones read: the first definition file
/// and the first labels object (at most `2 × MAX_TEXT_OBJECT` bytes, however many
/// descriptors a crafted image has).
pub fn shown_texts(ds: &[Descriptor]) -> Vec<&Descriptor> {
    [DT_DEFFILE, DT_LABELS]
        .iter()
        .filter_map(|t| ds.iter().find(|d| d.data_type == *t))
        .filter(|d| wants_text(d))
        .collect()
}

/// Parses a whole SIF image held in memory.
pub fn parse_bytes(b: &[u8]) -> Result<SifInfo> {
    let h = Header::parse(b, b.len() as u64)?;
    let r = h.descriptor_range();
    let ds = parse_descriptors(&b[r.start as usize..r.end as usize], b.len() as u64)?;
    Ok(SifInfo::build(&h, &ds, |d| wants_text(d).then(|| b[d.offset as usize..(d.offset + d.size) as usize].to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal SIF built by hand: header, one deffile, one partition.
    fn sample() -> Vec<u8> {
        let mut f = vec![0u8; 4096 + 2 * DESCRIPTOR_LEN];
        f[..32].copy_from_slice(b"#!/usr/bin/env run-singularity\n\0");
        f[32..42].copy_from_slice(MAGIC);
        f[42..45].copy_from_slice(b"01\0");
        f[45..48].copy_from_slice(b"00\0");
        f[64..72].copy_from_slice(&1_700_000_000i64.to_le_bytes());
        f[88..96].copy_from_slice(&2i64.to_le_bytes());
        f[96..104].copy_from_slice(&4096i64.to_le_bytes());
        let def = b"Bootstrap: docker\nFrom: alpine\n";
        let data_at = f.len() as i64;
        f.extend_from_slice(def);
        f.extend_from_slice(&[7u8; 100]);
        let mut put = |slot: usize, dt: i32, id: u32, off: i64, size: i64, extra: &[u8]| {
            let b = 4096 + slot * DESCRIPTOR_LEN;
            f[b..b + 4].copy_from_slice(&dt.to_le_bytes());
            f[b + 4] = 1;
            f[b + 5..b + 9].copy_from_slice(&id.to_le_bytes());
            f[b + 17..b + 25].copy_from_slice(&off.to_le_bytes());
            f[b + 25..b + 33].copy_from_slice(&size.to_le_bytes());
            f[b + 201..b + 201 + extra.len()].copy_from_slice(extra);
        };
        put(0, DT_DEFFILE, 1, data_at, def.len() as i64, &[]);
        let mut extra = vec![];
        extra.extend_from_slice(&1i32.to_le_bytes());
        extra.extend_from_slice(&2i32.to_le_bytes());
        extra.extend_from_slice(b"02\0");
        put(1, DT_PARTITION, 2, data_at + def.len() as i64, 100, &extra);
        f
    }

    #[test]
    fn reads_header_definition_and_architecture() {
        let info = parse_bytes(&sample()).unwrap();
        assert_eq!(info.version, "01");
        assert_eq!(info.created, 1_700_000_000);
        assert_eq!(info.architecture.as_deref(), Some("amd64"));
        assert_eq!(info.definition.as_deref(), Some("Bootstrap: docker\nFrom: alpine\n"));
        assert_eq!(info.partitions.len(), 1);
        assert_eq!(info.partitions[0].fs_type, "squashfs");
        assert_eq!(info.partitions[0].part_type, "primary-system");
        assert_eq!(info.objects.len(), 2);
    }

    #[test]
    fn only_the_shown_objects_are_read_however_many_there_are() {
        let d = |dt: i32, id: u32, size: i64| Descriptor {
            data_type: dt,
            id,
            group_id: 0,
            linked_id: 0,
            offset: 4096,
            size,
            name: String::new(),
            fs_type: None,
            part_type: None,
            arch_code: None,
        };
        // A crafted image: 4000 definition files and labels, all over the same bytes.
        let ds: Vec<Descriptor> =
            (0..4000).map(|i| d(if i % 2 == 0 { DT_DEFFILE } else { DT_LABELS }, i, MAX_TEXT_OBJECT)).collect();
        let shown = shown_texts(&ds);
        assert_eq!(shown.iter().map(|d| d.id).collect::<Vec<_>>(), [0, 1]);
        assert!(shown.iter().map(|d| d.size).sum::<i64>() <= 2 * MAX_TEXT_OBJECT);
        let h = Header::parse(&sample(), sample().len() as u64).unwrap();
        let info = SifInfo::build(&h, &ds, |_| None);
        assert_eq!(info.objects.len(), MAX_LISTED_OBJECTS, "the stored summary lists a bounded number of objects");
        // An oversized first definition file is not read at all.
        assert_eq!(shown_texts(&[d(DT_DEFFILE, 1, MAX_TEXT_OBJECT + 1), d(DT_DEFFILE, 2, 10)]).len(), 0);
    }

    #[test]
    fn rejects_damaged_files_without_panicking() {
        let good = sample();
        assert!(parse_bytes(&good[..100]).is_err());
        let mut no_magic = good.clone();
        no_magic[33] = b'X';
        assert!(parse_bytes(&no_magic).is_err());
        let mut huge_count = good.clone();
        huge_count[88..96].copy_from_slice(&i64::MAX.to_le_bytes());
        assert!(parse_bytes(&huge_count).is_err());
        let mut neg_offset = good.clone();
        neg_offset[96..104].copy_from_slice(&(-5i64).to_le_bytes());
        assert!(parse_bytes(&neg_offset).is_err());
        let mut obj_outside = good.clone();
        obj_outside[4096 + 17..4096 + 25].copy_from_slice(&(i64::MAX - 2).to_le_bytes());
        assert!(parse_bytes(&obj_outside).is_err());
        // Truncation anywhere is an error, never a panic.
        for cut in (0..good.len()).step_by(37) {
            let _ = parse_bytes(&good[..cut]);
        }
    }
}
