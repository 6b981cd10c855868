//! The persistent derivative cache: differentiated modules on disk, so that a second
//! session (a Julia user's next `julia` process, the next `radx opt` of the same build)
//! pays a file read instead of the transform.
//!
//! An entry is keyed by a SHA-256 over everything the result depends on: the input's
//! bytes, the request, RadX's version and the LLVM it was built with (`Key`). Entries are
//! written to a temporary file and renamed into place, so a reader in another process sees
//! either nothing or a whole entry. Each entry carries the length and SHA-256 of its
//! payload: a truncated or corrupted file is deleted and reported as a miss, never
//! returned. The directory is bounded in size; the least recently used entries go first
//! (a hit refreshes the entry's modification time).
//!
//! Floor: the bottom, beside the IR wrappers: the cache stores bytes under keys its callers
//! (the CLI, libradx) compute from their requests; it knows nothing of the engine.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Bumped whenever the entry layout, or what a key covers, changes.
const FORMAT: &[u8] = b"RADXCACHE1\n";
const ENTRY_EXT: &str = "radx";
/// Default bound on the directory's size.
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;
/// Temporary files older than this belong to a writer that died.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// The hash an entry is stored under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Key {
    /// A key over `parts` (each length-prefixed, so no two lists of parts collide), RadX's
    /// version, the LLVM it was built with and the entry format.
    pub fn new(parts: &[&[u8]]) -> Key {
        let mut h = Sha256::new();
        let (major, minor, patch) = crate::ir::llvm::version();
        let llvm = format!("llvm {major}.{minor}.{patch}");
        // `crate::VERSION`, read from Cargo here: the crate root re-exports the engine and the
        // pipeline, and the cache must not import what it does not use.
        let fixed: [&[u8]; 3] = [FORMAT, env!("CARGO_PKG_VERSION").as_bytes(), llvm.as_bytes()];
        for p in fixed.iter().chain(parts) {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        Key(h.finalize().into())
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What an entry holds: named byte strings (a module's bitcode, a report, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub sections: Vec<(String, Vec<u8>)>,
}

impl Entry {
    pub fn with(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Entry {
        self.sections.push((name.to_string(), bytes.into()));
        self
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.sections.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_slice())
    }

    fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        payload.extend((self.sections.len() as u32).to_le_bytes());
        for (name, bytes) in &self.sections {
            payload.extend((name.len() as u32).to_le_bytes());
            payload.extend(name.as_bytes());
            payload.extend((bytes.len() as u64).to_le_bytes());
            payload.extend(bytes);
        }
        let mut out = Vec::with_capacity(FORMAT.len() + 40 + payload.len());
        out.extend(FORMAT);
        out.extend((payload.len() as u64).to_le_bytes());
        out.extend(Sha256::digest(&payload));
        out.extend(payload);
        out
    }

    /// The entry in `data`, or why it is not one.
    fn decode(data: &[u8]) -> Result<Entry, String> {
        let header = FORMAT.len() + 8 + 32;
        if data.len() < header || &data[..FORMAT.len()] != FORMAT {
            return Err("not a cache entry of this format".into());
        }
        let len = u64::from_le_bytes(data[FORMAT.len()..FORMAT.len() + 8].try_into().unwrap()) as usize;
        let sum = &data[FORMAT.len() + 8..header];
        let payload = &data[header..];
        if payload.len() != len {
            return Err(format!("truncated: {} of {len} payload bytes", payload.len()));
        }
        if Sha256::digest(payload).as_slice() != sum {
            return Err("checksum mismatch".into());
        }
        let mut r = Reader { data: payload };
        let n = r.u32()? as usize;
        let mut sections = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            let name_len = r.u32()? as usize;
            let name = String::from_utf8(r.take(name_len)?.to_vec()).map_err(|_| "a section name is not UTF-8".to_string())?;
            let len = r.u64()? as usize;
            sections.push((name, r.take(len)?.to_vec()));
        }
        if !r.data.is_empty() {
            return Err("bytes after the last section".into());
        }
        Ok(Entry { sections })
    }
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.data.len() < n {
            return Err("a section runs past the end".into());
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
}

/// The outcome of a lookup.
#[derive(Debug)]
pub enum Lookup {
    Hit(Entry),
    Miss,
    /// There was a file, but not a whole entry; it has been removed.
    Corrupt(String),
}

/// A cache directory.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
}

/// Whether the environment asks for the cache: `RADX_CACHE=1|on` forces it on, `0|off`
/// off, anything else (or nothing) leaves the caller's choice.
pub fn env_switch() -> Option<bool> {
    match std::env::var("RADX_CACHE").ok()?.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Some(true),
        "0" | "off" | "no" | "false" => Some(false),
        _ => None,
    }
}

/// `RADX_CACHE_DIR`, else the user's cache directory (`$XDG_CACHE_HOME/radx`,
/// `~/Library/Caches/radx` on macOS, `~/.cache/radx`).
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("RADX_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("radx"));
    }
    let home = PathBuf::from(std::env::var_os("HOME").filter(|d| !d.is_empty())?);
    Some(if cfg!(target_os = "macos") { home.join("Library/Caches/radx") } else { home.join(".cache/radx") })
}

impl Cache {
    pub fn at(dir: impl Into<PathBuf>, max_bytes: u64) -> Cache {
        Cache { dir: dir.into(), max_bytes }
    }

    /// The cache the environment describes: `default_dir()`, bounded by
    /// `RADX_CACHE_MAX_MB` (default 512).
    pub fn from_env() -> Option<Cache> {
        let max = std::env::var("RADX_CACHE_MAX_MB").ok().and_then(|s| s.trim().parse::<u64>().ok()).map(|mb| mb << 20).unwrap_or(DEFAULT_MAX_BYTES);
        Some(Cache::at(default_dir()?, max))
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &Key) -> PathBuf {
        self.dir.join(format!("{}.{ENTRY_EXT}", key.hex()))
    }

    pub fn get(&self, key: &Key) -> Lookup {
        let path = self.path(key);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(_) => return Lookup::Miss,
        };
        match Entry::decode(&data) {
            Ok(e) => {
                // The modification time is the LRU clock. Failing to refresh it only makes
                // the entry an earlier candidate for eviction.
                let _ = std::fs::File::options().append(true).open(&path).and_then(|f| f.set_modified(SystemTime::now()));
                Lookup::Hit(e)
            }
            Err(why) => {
                let _ = std::fs::remove_file(&path);
                Lookup::Corrupt(why)
            }
        }
    }

    /// Stores `entry` under `key` (atomically: other processes see the old state or the
    /// whole new entry), then evicts down to the bound.
    pub fn put(&self, key: &Key, entry: &Entry) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{}.{}.{}.tmp", key.hex(), std::process::id(), unique()));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&entry.encode())?;
            f.sync_data()?;
            std::fs::rename(&tmp, self.path(key))
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        self.evict(Some(key));
        Ok(())
    }

    /// Removes least recently used entries until the directory is within its bound
    /// (keeping `keep`, the entry just written), and temporary files of dead writers.
    pub fn evict(&self, keep: Option<&Key>) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else { return };
        let keep = keep.map(|k| self.path(k));
        let now = SystemTime::now();
        let mut entries = Vec::new();
        let mut total = 0u64;
        for e in dir.flatten() {
            let path = e.path();
            let Ok(meta) = e.metadata() else { continue };
            let modified = meta.modified().unwrap_or(now);
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                if now.duration_since(modified).map(|age| age > STALE_TMP).unwrap_or(false) {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            if path.extension().map(|x| x == ENTRY_EXT).unwrap_or(false) {
                total += meta.len();
                entries.push((modified, meta.len(), path));
            }
        }
        if total <= self.max_bytes {
            return;
        }
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if Some(&path) == keep.as_ref() {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }

    /// Bytes and entries the directory holds now.
    pub fn usage(&self) -> (u64, usize) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else { return (0, 0) };
        dir.flatten()
            .filter(|e| e.path().extension().map(|x| x == ENTRY_EXT).unwrap_or(false))
            .filter_map(|e| e.metadata().ok())
            .fold((0, 0), |(b, n), m| (b + m.len(), n + 1))
    }
}

/// Distinguishes temporary files of threads of one process.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos() as u64).unwrap_or(0);
    (NEXT.fetch_add(1, Ordering::Relaxed) << 32) ^ nanos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("radx-cache-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_stored_entry_comes_back_whole() {
        let c = Cache::at(scratch("roundtrip"), DEFAULT_MAX_BYTES);
        let k = Key::new(&[b"module bytes", b"reverse dup const"]);
        assert!(matches!(c.get(&k), Lookup::Miss));
        let e = Entry::default().with("bitcode", vec![1u8, 2, 3]).with("report", "{}");
        c.put(&k, &e).unwrap();
        match c.get(&k) {
            Lookup::Hit(got) => assert_eq!(got, e),
            other => panic!("expected a hit, got {other:?}"),
        }
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(Key::new(&[b"ab", b"c"]), Key::new(&[b"a", b"bc"]));
        assert_ne!(Key::new(&[b"x"]), Key::new(&[b"x", b""]));
        assert_eq!(Key::new(&[b"x"]).hex().len(), 64);
    }

    #[test]
    fn truncated_and_corrupted_entries_are_removed_not_returned() {
        let c = Cache::at(scratch("corrupt"), DEFAULT_MAX_BYTES);
        let k = Key::new(&[b"m"]);
        c.put(&k, &Entry::default().with("bitcode", vec![7u8; 1000])).unwrap();
        let path = c.path(&k);
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 10]).unwrap();
        assert!(matches!(c.get(&k), Lookup::Corrupt(ref w) if w.contains("truncated")));
        assert!(!path.exists(), "a corrupt entry must be deleted");
        let mut flipped = whole.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(matches!(c.get(&k), Lookup::Corrupt(ref w) if w.contains("checksum")));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(matches!(c.get(&k), Lookup::Corrupt(_)));
        assert!(matches!(c.get(&k), Lookup::Miss));
    }

    #[test]
    fn the_least_recently_used_entries_are_evicted_first() {
        let dir = scratch("lru");
        let c = Cache::at(&dir, 2500);
        let keys: Vec<Key> = (0..3u8).map(|i| Key::new(&[&[i]])).collect();
        let old = SystemTime::now() - Duration::from_secs(100);
        for (i, k) in keys.iter().enumerate() {
            c.put(k, &Entry::default().with("b", vec![i as u8; 1000])).unwrap();
            // Make the write order the age order, whatever the file-system clock's grain.
            let f = std::fs::File::options().append(true).open(c.path(k)).unwrap();
            f.set_modified(old + Duration::from_secs(10 * i as u64)).unwrap();
        }
        // Three entries of ~1 KB do not fit in 2.5 KB: the oldest went when the third came.
        assert!(matches!(c.get(&keys[0]), Lookup::Miss));
        // Touch the second: now the third is the least recently used.
        assert!(matches!(c.get(&keys[1]), Lookup::Hit(_)));
        c.put(&Key::new(&[b"new"]), &Entry::default().with("b", vec![9u8; 1000])).unwrap();
        assert!(matches!(c.get(&keys[1]), Lookup::Hit(_)));
        assert!(matches!(c.get(&keys[2]), Lookup::Miss));
        assert!(c.usage().0 <= 2500);
    }

    #[test]
    fn concurrent_writers_and_readers_never_see_a_partial_entry() {
        let c = Cache::at(scratch("concurrent"), DEFAULT_MAX_BYTES);
        let k = Key::new(&[b"shared"]);
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let c = c.clone();
                let k = k.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        c.put(&k, &Entry::default().with("b", vec![t; 64 << 10])).unwrap();
                        match c.get(&k) {
                            Lookup::Hit(e) => {
                                let b = e.get("b").unwrap();
                                assert_eq!(b.len(), 64 << 10);
                                assert!(b.iter().all(|&x| x == b[0]), "an entry mixes two writers");
                            }
                            Lookup::Miss => {}
                            Lookup::Corrupt(w) => panic!("a reader saw a partial entry: {w}"),
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let leftovers = std::fs::read_dir(c.dir()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).count();
        assert_eq!(leftovers, 0);
    }
}
