//! The model file on disk: magic, a JSON header, the postcard body and a SHA-256 seal. Written
//! through a temporary file and a rename, encoded straight into it; read by hashing the file in
//! chunks and decoding the body as it is read, so neither side holds the file's bytes in memory
//! beside the model.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Digest;

use super::{Body, ModelFile, ModelInfo, Pipeline, FORMAT, FORMAT_VERSION, MAGIC, SEAL};
use crate::error::{Error, Result};

/// Bytes read or written at a time when hashing, encoding or decoding a model file.
const CHUNK: usize = 1 << 16;

/// Scratch space for one string (a column name, a category label) while a body is decoded as
/// it is read; a body with a longer string is decoded from memory instead.
const STRING_SCRATCH: usize = 1 << 20;

impl ModelFile {
    /// Encode to bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = self.header()?;
        let body_len = postcard::experimental::serialized_size(&Encoded(&self.body))
            .map_err(|e| encode_error(e.to_string()))?;
        // One allocation of the exact size: a model of fold models can be hundreds of MiB, and a
        // growing buffer would hold up to twice that while it is copied.
        let cap = 16 + header.len() + body_len + SEAL.len() + 32;
        self.write_into(&header, Vec::with_capacity(cap))
            .map_err(|e| encode_error(e.to_string()))
    }

    /// The JSON header: the info, marked sealed.
    fn header(&self) -> Result<Vec<u8>> {
        let mut info = self.info.clone();
        info.sealed = true;
        serde_json::to_vec(&info).map_err(|e| encode_error(e.to_string()))
    }

    /// Write magic, header length, header, body and seal to `inner`, hashing what it writes
    /// in buffered chunks (postcard writes number by number).
    fn write_into<W: Write>(&self, header: &[u8], inner: W) -> std::io::Result<W> {
        let sealing = Sealing {
            inner,
            sum: sha2::Sha256::new(),
            failed: None,
        };
        let mut w = std::io::BufWriter::with_capacity(CHUNK, sealing);
        w.write_all(MAGIC)?;
        w.write_all(&(header.len() as u64).to_le_bytes())?;
        w.write_all(header)?;
        if let Err(e) = postcard::to_io(&Encoded(&self.body), &mut w) {
            // postcard reports a failed write without its cause; the sealing writer kept it.
            return Err(w
                .get_mut()
                .failed
                .take()
                .unwrap_or_else(|| std::io::Error::other(e.to_string())));
        }
        let Sealing { mut inner, sum, .. } = w.into_inner().map_err(|e| e.into_error())?;
        inner.write_all(SEAL)?;
        inner.write_all(&sum.finalize())?;
        Ok(inner)
    }

    /// Write atomically via a temporary file, encoding straight into it (no copy in memory).
    pub fn save(&self, path: &Path) -> Result<()> {
        self.save_kept(path).map(drop)
    }

    /// [`ModelFile::save`], returning the written file still open.
    fn save_kept(&self, path: &Path) -> Result<std::fs::File> {
        let header = self.header()?;
        write_atomic_kept(path, |f| {
            self.write_into(&header, f)
                .map(drop)
                .map_err(|e| Error::io(path, e))
        })
    }

    /// Save to `path` and replace this model by what loading the file gives, so what is used
    /// next (test scores, predictions) is exactly what `automl predict` loads. The model in
    /// memory is dropped before the file is read back: one form of it at a time, never the
    /// file's bytes beside it. The file is read back through the handle it was written with, so
    /// another process replacing `path` meanwhile changes nothing.
    pub fn save_and_reload(&mut self, path: &Path) -> Result<()> {
        let file = self.save_kept(path)?;
        self.body = Body::Ensemble(Vec::new());
        *self = Opened::open(path, file)?.decode(path)?;
        Ok(())
    }

    /// Read only the header, after checking the seal; memory does not grow with the model.
    pub fn read_info(path: &Path) -> Result<ModelInfo> {
        Ok(Opened::file(path)?.info)
    }

    /// Read and check format, version and seal, decoding the body as it is read: the file is
    /// never held in memory beside the model.
    pub fn load(path: &Path) -> Result<ModelFile> {
        Opened::file(path)?.decode(path)
    }

    /// Decode bytes written by [`ModelFile::to_bytes`] (the same checks as [`ModelFile::load`]);
    /// `path` names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<ModelFile> {
        let opened = Opened::open(path, std::io::Cursor::new(bytes))?;
        let start = usize::try_from(opened.body_start).unwrap_or(usize::MAX);
        let len = usize::try_from(opened.body_len).unwrap_or(usize::MAX);
        let body = bytes
            .get(start..start.saturating_add(len))
            .ok_or_else(|| bad(path, "truncated model file".into()))?;
        let body = decode_body(&opened.info, path, body)?;
        Ok(ModelFile {
            info: opened.info,
            body,
        })
    }
}

/// Decode a file's body as its header describes it (one pipeline, weighted members, or a stack's
/// members), checking the member counts against the header.
fn decode_body(info: &ModelInfo, path: &Path, src: impl BodySource) -> Result<Body> {
    let bags: Vec<usize> = info.ensemble.iter().map(|m| m.bag).collect();
    let inconsistent = || damaged(path, postcard::Error::DeserializeBadEncoding);
    Ok(if let Some(meta) = &info.stacker {
        let members: Vec<Vec<Pipeline>> = src.decode(path)?;
        if members.len() != meta.members || members.iter().map(Vec::len).ne(bags.iter().copied()) {
            return Err(inconsistent());
        }
        Body::Stack(members, meta.clone())
    } else if info.ensemble.is_empty() {
        Body::Single(src.decode(path)?)
    } else {
        let members: Vec<(f64, Pipeline)> = src.decode(path)?;
        if members.len() != bags.iter().sum::<usize>() {
            return Err(inconsistent());
        }
        Body::Ensemble(members)
    })
}

/// The error of a body that does not decode.
fn damaged(path: &Path, e: postcard::Error) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        message: format!("damaged model data ({e})"),
    }
}

/// Where a body's postcard bytes come from.
trait BodySource {
    /// Decode one value of type `T`; `path` names the file in errors.
    fn decode<T: DeserializeOwned>(self, path: &Path) -> Result<T>;
}

impl BodySource for &[u8] {
    fn decode<T: DeserializeOwned>(self, path: &Path) -> Result<T> {
        postcard::from_bytes(self).map_err(|e| damaged(path, e))
    }
}

/// A checked, open model file (or its bytes): its header, and where its body lies.
struct Opened<R> {
    src: R,
    info: ModelInfo,
    body_start: u64,
    body_len: u64,
}

impl Opened<std::fs::File> {
    /// Open the file at `path` and check it (see [`Opened::open`]).
    fn file(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        Opened::open(path, file)
    }
}

impl<R: Read + Seek> Opened<R> {
    /// Decode the body as it is read from the source.
    fn decode(self, path: &Path) -> Result<ModelFile> {
        let Opened {
            mut src,
            info,
            body_start,
            body_len,
        } = self;
        let streamed = Streamed {
            src: &mut src,
            start: body_start,
            len: body_len,
            scratch: STRING_SCRATCH,
        };
        let body = decode_body(&info, path, streamed)?;
        Ok(ModelFile { info, body })
    }

    /// Check a model file read from `src` (`path` names it in errors): its seal by hashing it in
    /// chunks (when it has one), then its magic and header, in that order; the body is not read.
    fn open(path: &Path, mut src: R) -> Result<Opened<R>> {
        let io = |e| Error::io(path, e);
        let len = src.seek(SeekFrom::End(0)).map_err(io)?;
        let mut tail = [0u8; 40];
        let sealed = len >= 40 && {
            src.seek(SeekFrom::Start(len - 40)).map_err(io)?;
            src.read_exact(&mut tail).map_err(io)?;
            &tail[..8] == SEAL
        };
        let end = if sealed { len - 40 } else { len };
        src.seek(SeekFrom::Start(0)).map_err(io)?;
        if sealed {
            let mut sum = sha2::Sha256::new();
            let mut rest = std::io::BufReader::with_capacity(CHUNK, (&mut src).take(end));
            std::io::copy(&mut rest, &mut sum).map_err(io)?;
            if rest.get_ref().limit() > 0 {
                return Err(bad(path, "truncated model file".into()));
            }
            if sum.finalize().as_slice() != &tail[8..] {
                return Err(bad(path, MISMATCH.into()));
            }
            src.seek(SeekFrom::Start(0)).map_err(io)?;
        }
        let mut first = [0u8; 16];
        if end < 16 || src.read_exact(&mut first).is_err() {
            return Err(bad(path, "not an automl model file".into()));
        }
        let header_len = header_len(path, &first)?;
        if header_len > end - 16 {
            return Err(bad(path, "truncated model file".into()));
        }
        let mut header = vec![0u8; usize::try_from(header_len).unwrap_or(usize::MAX)];
        src.read_exact(&mut header).map_err(io)?;
        let info = parse_header(path, &header, sealed)?;
        Ok(Opened {
            src,
            info,
            body_start: 16 + header_len,
            body_len: end - 16 - header_len,
        })
    }
}

/// An opened file's body (`len` bytes from `start`), decoded while it is read with `scratch`
/// bytes of space for one string.
struct Streamed<'a, R> {
    src: &'a mut R,
    start: u64,
    len: u64,
    scratch: usize,
}

impl<R: Read + Seek> BodySource for Streamed<'_, R> {
    fn decode<T: DeserializeOwned>(self, path: &Path) -> Result<T> {
        let io = |e| Error::io(path, e);
        let Streamed {
            src,
            start,
            len,
            scratch,
        } = self;
        src.seek(SeekFrom::Start(start)).map_err(io)?;
        let reader = std::io::BufReader::with_capacity(CHUNK, (&mut *src).take(len));
        let scratch_len = usize::try_from(len).unwrap_or(usize::MAX).min(scratch);
        let mut scratch = vec![0u8; scratch_len];
        match postcard::from_io((reader, &mut scratch)) {
            Ok((value, _)) => Ok(value),
            // postcard reports a string longer than the scratch space and a failed read alike,
            // as the end of the data: decode from memory, which tells them apart.
            Err(postcard::Error::DeserializeUnexpectedEnd) => {
                src.seek(SeekFrom::Start(start)).map_err(io)?;
                let mut bytes = Vec::new();
                src.take(len).read_to_end(&mut bytes).map_err(io)?;
                bytes.as_slice().decode(path)
            }
            Err(e) => Err(damaged(path, e)),
        }
    }
}

/// The message of a file whose seal does not match its bytes.
const MISMATCH: &str = "checksum mismatch: the file changed after it was saved (damaged or tampered \
                        with); use the workspace's copy or train again";

/// A [`Error::ModelFile`] for `path`.
fn bad(path: &Path, message: String) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        message,
    }
}

/// The header length a file's first 16 bytes give, after checking its magic.
fn header_len(path: &Path, first: &[u8; 16]) -> Result<u64> {
    if &first[..8] != MAGIC {
        return Err(bad(path, "not an automl model file".into()));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&first[8..16]);
    Ok(u64::from_le_bytes(len))
}

/// Parse and check the JSON header: format, version, and a seal where it says it has one.
fn parse_header(path: &Path, header: &[u8], sealed: bool) -> Result<ModelInfo> {
    let head: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad(path, format!("damaged header ({e})")))?;
    if head.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(bad(path, "not an automl model file".into()));
    }
    let v = head.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
    if v > u64::from(FORMAT_VERSION) {
        return Err(bad(
            path,
            format!(
                "format version {v} is newer than this automl supports ({FORMAT_VERSION}); upgrade automl"
            ),
        ));
    }
    let info: ModelInfo =
        serde_json::from_value(head).map_err(|e| bad(path, format!("incompatible header ({e})")))?;
    if info.sealed && !sealed {
        return Err(bad(
            path,
            "its checksum is missing (the file was cut short or altered)".into(),
        ));
    }
    Ok(info)
}

/// Write bytes to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes).map_err(|e| Error::io(path, e)))
}

/// Write to `path` through a temporary file in the same folder (filled by `fill`) and a rename:
/// readers see the old file or the whole new one, never a part.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    write_atomic_kept(path, fill).map(drop)
}

/// [`write_atomic_with`], returning the file it wrote, open for reading and writing: it stays
/// the file written even if another process replaces `path` afterwards.
fn write_atomic_kept(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<std::fs::File> {
    let tmp = temp_beside(path)?;
    // Errors name the file asked for: the temp file is ours, not the user's.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| Error::io(path, e))?;
    let written = fill(&mut f).and_then(|()| f.sync_all().map_err(|e| Error::io(path, e)));
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed.map(|()| f)
}

/// Check that `path` can be written as [`write_atomic_with`] writes it (not a folder itself; a
/// temporary file can be created in its folder, or, when that folder is missing, in the nearest
/// folder above it, where saving will make the missing ones), so that a long job fails before it
/// starts instead of when it saves its result. Nothing is left behind: the probe file is
/// removed and no folder is made.
pub fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a folder, not a file"),
        ));
    }
    // The nearest folder that exists (the working folder for a relative path none of whose
    // folders exist yet).
    let dir = folder_of(path)
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .find(|a| a.exists())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(temp_name(path));
    std::fs::File::create(&tmp).map_err(|e| Error::io(path, e))?;
    std::fs::remove_file(&tmp).map_err(|e| Error::io(&tmp, e))
}

/// The folder `path` lies in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A temporary file name for writing `path`, unique per process and call, so threads writing
/// the same file never share one.
fn temp_name(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(".{name}.tmp{}-{n}", std::process::id())
}

/// A temporary file's path in `path`'s folder (made when missing).
fn temp_beside(path: &Path) -> Result<std::path::PathBuf> {
    let dir = folder_of(path);
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(dir.join(temp_name(path)))
}

/// The part of a body the file holds (a stack's meta-model is in the header): serialised as
/// that part alone, with no wrapper of its own.
struct Encoded<'a>(&'a Body);

impl Serialize for Encoded<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Body::Single(p) => p.serialize(s),
            Body::Ensemble(m) => m.serialize(s),
            Body::Stack(m, _) => m.serialize(s),
        }
    }
}

/// A writer that hashes what passes through it (the model file's seal) and keeps the first
/// write error (postcard drops it).
struct Sealing<W> {
    inner: W,
    sum: sha2::Sha256,
    failed: Option<std::io::Error>,
}

impl<W: Write> Write for Sealing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.inner.write(buf) {
            Ok(n) => {
                self.sum.update(&buf[..n]);
                Ok(n)
            }
            Err(e) => {
                if self.failed.is_none() {
                    self.failed = Some(std::io::Error::new(e.kind(), e.to_string()));
                }
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The error of a model that cannot be encoded or written.
fn encode_error(m: String) -> Error {
    Error::Config(format!("cannot encode model: {m}"))
}

#[cfg(test)]
mod tests {
    use super::super::tests::penguins_model;
    use super::*;

    #[test]
    fn damaged_or_newer_files_are_refused() {
        let (model, _) = penguins_model();
        let dir = tempfile::tempdir().unwrap();
        let bytes = model.to_bytes().unwrap();
        let truncated = dir.path().join("t.automl");
        std::fs::write(&truncated, &bytes[..bytes.len() - 3]).unwrap();
        let e = ModelFile::load(&truncated).unwrap_err().to_string();
        assert!(e.contains("checksum is missing"), "{e}");
        // Four bytes flipped near the end (as a new user tried), in the body, or in the checksum
        // itself: refused, never silently different predictions.
        for at in [bytes.len() - 60, bytes.len() / 2, bytes.len() - 4] {
            let mut flipped = bytes.clone();
            for b in &mut flipped[at..at + 4] {
                *b ^= 0x5a;
            }
            let p = dir.path().join("f.automl");
            std::fs::write(&p, &flipped).unwrap();
            let e = ModelFile::load(&p).unwrap_err().to_string();
            assert!(e.contains("checksum mismatch"), "flip at {at}: {e}");
        }
        // A file written before files were sealed (no checksum) still loads.
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[8..16]);
        let body = &bytes[16 + u64::from_le_bytes(len) as usize..bytes.len() - 40];
        let mut info = model.info.clone();
        info.sealed = false;
        let header = serde_json::to_vec(&info).unwrap();
        let mut legacy = MAGIC.to_vec();
        legacy.extend_from_slice(&(header.len() as u64).to_le_bytes());
        legacy.extend_from_slice(&header);
        legacy.extend_from_slice(body);
        let back = ModelFile::from_bytes(&legacy, &truncated).unwrap();
        assert_eq!(back.config, model.config);
        let p = dir.path().join("legacy.automl");
        std::fs::write(&p, &legacy).unwrap();
        assert_eq!(ModelFile::load(&p).unwrap().config, model.config);
        assert!(!ModelFile::read_info(&p).unwrap().sealed);
        std::fs::write(&truncated, &bytes[..40]).unwrap();
        let e = ModelFile::load(&truncated).unwrap_err().to_string();
        assert!(e.contains("truncated model file"), "{e}");
        let mut newer = model.clone();
        newer.info.format_version = FORMAT_VERSION + 1;
        let p = dir.path().join("n.automl");
        newer.save(&p).unwrap();
        let e = ModelFile::load(&p).unwrap_err().to_string();
        assert!(e.contains("newer than this automl supports"), "{e}");
        let p = dir.path().join("x.automl");
        std::fs::write(&p, b"hello").unwrap();
        assert!(ModelFile::load(&p)
            .unwrap_err()
            .to_string()
            .contains("not an automl model file"));
    }

    #[test]
    fn streamed_bodies_decode_as_in_memory_ones() {
        let (model, _) = penguins_model();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.automl");
        model.save(&path).unwrap();
        let mut opened = Opened::file(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let start = opened.body_start as usize;
        let body = &bytes[start..start + opened.body_len as usize];
        let expect = postcard::to_stdvec(&Encoded(&model.body)).unwrap();
        assert_eq!(body, expect.as_slice());
        // Streamed with room for any string, and with a scratch space shorter than the column
        // names (decoded from memory instead): the same body as decoding the bytes.
        for scratch in [STRING_SCRATCH, 4] {
            let source = Streamed {
                src: &mut opened.src,
                start: opened.body_start,
                len: opened.body_len,
                scratch,
            };
            let streamed = decode_body(&opened.info, &path, source).unwrap();
            assert_eq!(
                postcard::to_stdvec(&Encoded(&streamed)).unwrap(),
                expect,
                "scratch {scratch}"
            );
        }
        // A file cut inside its body has lost its seal: refused before any decoding.
        let cut = dir.path().join("cut.automl");
        std::fs::write(&cut, &bytes[..start + 10]).unwrap();
        let e = ModelFile::load(&cut).unwrap_err().to_string();
        assert!(e.contains("checksum is missing"), "{e}");
    }

    #[test]
    fn write_errors_name_the_file_asked_for_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        // A folder cannot be created under a plain file: the temp file cannot be made.
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let asked = file.join("m.automl");
        let e = write_atomic(&asked, b"model").unwrap_err().to_string();
        assert!(e.starts_with(&asked.display().to_string()), "{e}");
        assert!(!e.contains(".m.automl.tmp"), "{e}");
        // The rename onto a folder fails: the error names it and the temp file is removed.
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).unwrap();
        let e = write_atomic(&target, b"model").unwrap_err().to_string();
        assert!(e.starts_with(&target.display().to_string()), "{e}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        // The check before a long job finds both (and a folder missing under a plain file),
        // leaves nothing behind, and passes where a file can be written, missing folders
        // included (saving makes them; the check makes none).
        let under_file = dir.path().join("plain/sub/m.automl");
        for bad in [&asked, &target, &under_file] {
            let e = check_writable(bad).unwrap_err().to_string();
            assert!(e.starts_with(&bad.display().to_string()), "{e}");
        }
        let fine = dir.path().join("new/deeper/m.automl");
        check_writable(&fine).unwrap();
        assert!(!dir.path().join("new").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        write_atomic(&fine, b"model").unwrap();
        assert_eq!(std::fs::read(&fine).unwrap(), b"model");
    }
}
