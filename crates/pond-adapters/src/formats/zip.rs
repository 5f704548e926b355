//! Just enough of the ZIP format to take one member out of an archive: the
//! central directory, stored and deflated members. Data exports arrive as
//! `.zip`, and pond needs one JSON file from them, not an archive library.

use std::io::Read;

const END_OF_DIRECTORY: u32 = 0x0605_4b50;
const DIRECTORY_ENTRY: u32 = 0x0201_4b50;
const LOCAL_HEADER: u32 = 0x0403_4b50;
/// The end record is 22 bytes plus a comment of up to 64 KiB.
const MAX_TAIL: usize = 22 + 0xffff;
/// Refuse to inflate a member claiming more than this (a zip bomb guard).
const MAX_MEMBER_BYTES: u64 = 4 << 30;
/// How many times its compressed size a member may inflate to. Session JSON
/// deflates 5.2-5.7x (measured on the bench corpus with zlib level 6); a
/// bomb inflates ~1000x. An archive is read into memory whole, so this bounds
/// what one upload can make pond allocate.
const MAX_INFLATION: u64 = 32;
/// Tiny members may inflate to this whatever their ratio.
const MIN_INFLATION_LIMIT: u64 = 1 << 20;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The bytes of the first member whose name is `name` or ends in `/name`.
pub fn member(archive: &[u8], name: &str) -> Result<Vec<u8>, String> {
    let corrupt = |what: &str| format!("not a readable zip archive ({what})");
    let tail_start = archive.len().saturating_sub(MAX_TAIL);
    let end = (tail_start..archive.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(archive, i) == Some(END_OF_DIRECTORY))
        .ok_or_else(|| corrupt("no end of central directory"))?;
    let entries = u16_at(archive, end + 10).ok_or_else(|| corrupt("short end record"))?;
    let directory = u32_at(archive, end + 16).ok_or_else(|| corrupt("short end record"))?;
    if directory == u32::MAX {
        return Err("ZIP64 archives are not supported; unzip it and give the JSON file".into());
    }
    let mut at = directory as usize;
    for _ in 0..entries {
        if u32_at(archive, at) != Some(DIRECTORY_ENTRY) {
            return Err(corrupt("bad central directory entry"));
        }
        let field = |off: usize| u16_at(archive, at + off).map(usize::from);
        let (Some(method), Some(name_len), Some(extra_len), Some(comment_len)) =
            (field(10), field(28), field(30), field(32))
        else {
            return Err(corrupt("short central directory entry"));
        };
        let (Some(packed), Some(size), Some(local)) = (
            u32_at(archive, at + 20),
            u32_at(archive, at + 24),
            u32_at(archive, at + 42),
        ) else {
            return Err(corrupt("short central directory entry"));
        };
        let entry_name = archive
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| corrupt("short file name"))?;
        let entry_name = String::from_utf8_lossy(entry_name);
        if entry_name == name || entry_name.ends_with(&format!("/{name}")) {
            if [packed, size, local].contains(&u32::MAX) {
                return Err(
                    "ZIP64 archives are not supported; unzip it and give the JSON file".into(),
                );
            }
            return extract(
                archive,
                local as usize,
                method,
                packed as usize,
                size.into(),
            )
            .map_err(|e| corrupt(&e));
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    Err(format!("the archive has no {name}"))
}

fn extract(
    archive: &[u8],
    local: usize,
    method: usize,
    packed: usize,
    size: u64,
) -> Result<Vec<u8>, String> {
    if u32_at(archive, local) != Some(LOCAL_HEADER) {
        return Err("bad local header".into());
    }
    let name_len = u16_at(archive, local + 26).ok_or("short local header")?;
    let extra_len = u16_at(archive, local + 28).ok_or("short local header")?;
    let start = local + 30 + usize::from(name_len) + usize::from(extra_len);
    let data = archive
        .get(start..start + packed)
        .ok_or("member data past the end of the archive")?;
    if size > MAX_MEMBER_BYTES {
        return Err(format!("member claims {size} bytes"));
    }
    let limit = (packed as u64)
        .saturating_mul(MAX_INFLATION)
        .max(MIN_INFLATION_LIMIT);
    if method == 8 && size > limit {
        return Err(format!(
            "member would inflate {packed} bytes to {size}, more than {MAX_INFLATION} times (a zip bomb?)"
        ));
    }
    match method {
        0 => Ok(data.to_vec()),
        8 => {
            // The claimed size only hints the allocation (a tiny archive may
            // claim gigabytes), and inflating stops one byte past it: a
            // member larger than it says is corrupt or a bomb.
            let mut out = Vec::with_capacity(size.min(64 << 20) as usize);
            flate2::read::DeflateDecoder::new(data)
                .take(size + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("cannot inflate: {e}"))?;
            if out.len() as u64 != size {
                return Err(format!(
                    "member inflates to {} bytes, not the {size} it claims",
                    out.len()
                ));
            }
            Ok(out)
        }
        other => Err(format!("compression method {other} is not supported")),
    }
}

#[cfg(test)]
/// A one-member archive, written by hand: the format is small enough
/// that a fixture made by a zip tool is not needed to test the reader.
pub(crate) fn archive(name: &str, content: &[u8], deflate: bool) -> Vec<u8> {
    let data = if deflate {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, content).expect("deflate");
        e.finish().expect("deflate")
    } else {
        content.to_vec()
    };
    let method: u16 = if deflate { 8 } else { 0 };
    let mut out = Vec::new();
    out.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
    out.extend_from_slice(&[20, 0, 0, 0]);
    out.extend_from_slice(&method.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // time, date, crc
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&data);
    let directory = out.len() as u32;
    out.extend_from_slice(&DIRECTORY_ENTRY.to_le_bytes());
    out.extend_from_slice(&[20, 0, 20, 0, 0, 0]);
    out.extend_from_slice(&method.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    out.extend_from_slice(name.as_bytes());
    let size = out.len() as u32 - directory;
    out.extend_from_slice(&END_OF_DIRECTORY.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&directory.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_and_deflated_members_come_out_whole() {
        let content = br#"[{"uuid":"a"}]"#.repeat(50);
        for deflate in [false, true] {
            let zip = archive("export/conversations.json", &content, deflate);
            assert_eq!(member(&zip, "conversations.json").expect("member"), content);
        }
    }

    #[test]
    fn a_member_claiming_more_than_it_holds_is_refused_without_allocating_it() {
        let mut zip = archive("conversations.json", b"[]", true);
        // The central directory's uncompressed size: claim almost 4 GiB.
        let directory = zip.len() - 22 - (46 + "conversations.json".len());
        zip[directory + 24..directory + 28].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let err = member(&zip, "conversations.json").expect_err("refused");
        assert!(err.contains("more than 32 times"), "{err}");
    }

    #[test]
    fn a_member_inflating_far_beyond_its_packed_size_is_refused() {
        let bomb = vec![b' '; 64 << 20];
        let zip = archive("conversations.json", &bomb, true);
        assert!(zip.len() < 1 << 20, "{} bytes", zip.len());
        let err = member(&zip, "conversations.json").expect_err("refused");
        assert!(err.contains("more than 32 times"), "{err}");
        // Real session JSON (5-6x) still comes out.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let real: Vec<u8> = (0..40_000)
            .flat_map(|n| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                format!("{{\"uuid\":\"{state:016x}\",\"text\":\"cargo test\",\"n\":{n}}}\n")
                    .into_bytes()
            })
            .collect();
        let zip = archive("conversations.json", &real, true);
        assert_eq!(member(&zip, "conversations.json").expect("member"), real);
    }

    #[test]
    fn damaged_archives_are_errors_not_panics() {
        let zip = archive("conversations.json", b"[]", true);
        for cut in 0..zip.len() {
            let _ = member(&zip[..cut], "conversations.json");
        }
        assert!(member(&zip, "projects.json").is_err());
        assert!(member(b"not a zip at all", "x").is_err());
    }
}
