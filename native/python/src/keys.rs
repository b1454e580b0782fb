//! Python key arguments -> cached parsed keys. str/bytes go straight to the core's key
//! cache; cryptography key objects are converted to DER once and remembered by identity
//! (the entry holds a reference, so the address cannot be reused while it is cached).

use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};

use lru::LruCache;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyModule, PyString, PyTuple, PyType};
use turbojwt_core::cache::{KeyCache, DEFAULT_CAPACITY};
use turbojwt_core::keys::KeyEntry;
pub use turbojwt_core::verify::KeyRef;
use turbojwt_core::Algorithm;

fn capacity_from_env() -> usize {
    std::env::var("TURBOJWT_KEY_CACHE_SIZE")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_CAPACITY)
}

pub static KEY_CACHE: LazyLock<KeyCache> = LazyLock::new(|| KeyCache::new(capacity_from_env()));

/// Key objects by address; each entry keeps its object alive, so an address cannot be
/// reused by another object while it is cached.
type ByIdentity = LruCache<usize, (Py<PyAny>, Arc<KeyEntry>)>;
static BY_IDENTITY: LazyLock<Mutex<ByIdentity>> = LazyLock::new(|| {
    Mutex::new(LruCache::new(
        NonZeroUsize::new(capacity_from_env().max(1)).unwrap(),
    ))
});

fn by_identity() -> std::sync::MutexGuard<'static, ByIdentity> {
    BY_IDENTITY.lock().unwrap_or_else(|p| p.into_inner())
}

struct CryptoTypes {
    private: Py<PyTuple>,
    public: Py<PyTuple>,
    der: Py<PyAny>,
    spki: Py<PyAny>,
    pkcs8: Py<PyAny>,
    no_encryption: Py<PyAny>,
}

static CRYPTO: PyOnceLock<CryptoTypes> = PyOnceLock::new();
static PYJWK: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn crypto(py: Python<'_>) -> PyResult<&CryptoTypes> {
    CRYPTO.get_or_try_init(py, || {
        let asym = |m: &str| {
            PyModule::import(py, format!("cryptography.hazmat.primitives.asymmetric.{m}"))
        };
        let rsa = asym("rsa")?;
        let ec = asym("ec")?;
        let ed25519 = asym("ed25519")?;
        let ed448 = asym("ed448")?;
        let ser = PyModule::import(py, "cryptography.hazmat.primitives.serialization")?;
        let private = PyTuple::new(
            py,
            [
                rsa.getattr("RSAPrivateKey")?,
                ec.getattr("EllipticCurvePrivateKey")?,
                ed25519.getattr("Ed25519PrivateKey")?,
                ed448.getattr("Ed448PrivateKey")?,
            ],
        )?;
        let public = PyTuple::new(
            py,
            [
                rsa.getattr("RSAPublicKey")?,
                ec.getattr("EllipticCurvePublicKey")?,
                ed25519.getattr("Ed25519PublicKey")?,
                ed448.getattr("Ed448PublicKey")?,
            ],
        )?;
        Ok::<_, PyErr>(CryptoTypes {
            private: private.unbind(),
            public: public.unbind(),
            der: ser.getattr("Encoding")?.getattr("DER")?.unbind(),
            spki: ser
                .getattr("PublicFormat")?
                .getattr("SubjectPublicKeyInfo")?
                .unbind(),
            pkcs8: ser.getattr("PrivateFormat")?.getattr("PKCS8")?.unbind(),
            no_encryption: ser.getattr("NoEncryption")?.call0()?.unbind(),
        })
    })
}

pub fn pyjwk_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    PYJWK
        .get_or_try_init(py, || {
            PyModule::import(py, "turbojwt.api_jwk")?
                .getattr("PyJWK")?
                .cast_into::<PyType>()
                .map(Bound::unbind)
                .map_err(PyErr::from)
        })
        .map(|t| t.bind(py))
}

/// The key material of a cryptography key object (DER SPKI or PKCS#8), or None.
fn crypto_key_der(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    let c = crypto(py)?;
    let der = if key.is_instance(c.private.bind(py).as_any())? {
        key.call_method1(
            "private_bytes",
            (c.der.bind(py), c.pkcs8.bind(py), c.no_encryption.bind(py)),
        )?
    } else if key.is_instance(c.public.bind(py).as_any())? {
        key.call_method1("public_bytes", (c.der.bind(py), c.spki.bind(py)))?
    } else {
        return Ok(None);
    };
    Ok(Some(der.cast::<PyBytes>()?.as_bytes().to_vec()))
}

fn entry_for_object(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<Arc<KeyEntry>>> {
    let id = key.as_ptr() as usize;
    if let Some((obj, entry)) = by_identity().get(&id) {
        if obj.bind(py).is(key) {
            KEY_CACHE.record_hit();
            return Ok(Some(entry.clone()));
        }
    }
    let Some(der) = crypto_key_der(py, key)? else {
        return Ok(None);
    };
    let entry = KEY_CACHE.get(&der);
    if KEY_CACHE.maxsize() > 0 {
        // Evicted objects are dropped here, with the GIL held.
        let evicted = by_identity().push(id, (key.clone().unbind(), entry.clone()));
        drop(evicted);
    }
    Ok(Some(entry))
}

/// The last str/bytes key object seen, so the usual call (the same key constant every
/// time) skips hashing the key material. Holding the object keeps its identity stable.
static LAST_KEY: Mutex<Option<(Py<PyAny>, Arc<KeyEntry>)>> = Mutex::new(None);

fn last_key() -> std::sync::MutexGuard<'static, Option<(Py<PyAny>, Arc<KeyEntry>)>> {
    LAST_KEY.lock().unwrap_or_else(|p| p.into_inner())
}

fn same_as_last(py: Python<'_>, key: &Bound<'_, PyAny>) -> Option<Arc<KeyEntry>> {
    let last = last_key();
    let (obj, entry) = last.as_ref()?;
    if obj.bind(py).is(key) {
        KEY_CACHE.record_hit();
        return Some(entry.clone());
    }
    None
}

fn material_entry(key: &Bound<'_, PyAny>, material: &[u8]) -> Arc<KeyEntry> {
    let entry = KEY_CACHE.get(material);
    if KEY_CACHE.maxsize() > 0 {
        let previous = last_key().replace((key.clone().unbind(), entry.clone()));
        drop(previous); // released outside the lock
    }
    entry
}

/// Resolves a `key=` argument; `Ok(None)` means the core does not take this kind of key
/// (the caller uses the Python reference path).
pub fn resolve(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<KeyRef>> {
    let plain = |entry| {
        Ok(Some(KeyRef {
            entry,
            bound: None,
            is_object: false,
        }))
    };
    if let Ok(s) = key.cast_exact::<PyString>() {
        if let Some(entry) = same_as_last(py, key) {
            return plain(entry);
        }
        let Ok(text) = s.to_str() else {
            return Ok(None);
        };
        return plain(material_entry(key, text.as_bytes()));
    }
    if let Ok(b) = key.cast_exact::<PyBytes>() {
        if let Some(entry) = same_as_last(py, key) {
            return plain(entry);
        }
        return plain(material_entry(key, b.as_bytes()));
    }
    if key.is_instance(pyjwk_type(py)?.as_any())? {
        let name: String = match key.getattr("algorithm_name")?.extract() {
            Ok(n) => n,
            Err(_) => return Ok(None),
        };
        let Some(alg) = Algorithm::from_name(&name) else {
            return Ok(None);
        };
        let inner = key.getattr("key")?;
        return Ok(resolve(py, &inner)?.map(|r| KeyRef {
            bound: Some(alg),
            ..r
        }));
    }
    Ok(entry_for_object(py, key)?.map(|entry| KeyRef {
        entry,
        bound: None,
        is_object: true,
    }))
}

/// [`resolve`] for verification: a `PyJWK` that must not verify (its `use` or `key_ops`)
/// goes to the Python path, which raises `InvalidKeyError` with the reason.
pub fn resolve_for_verify(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<KeyRef>> {
    if key.is_instance(pyjwk_type(py)?.as_any())?
        && key
            .getattr(pyo3::intern!(py, "_verify_refusal"))?
            .is_truthy()?
    {
        return Ok(None);
    }
    resolve(py, key)
}

#[pyfunction]
pub fn key_cache_info() -> (u64, u64, usize, usize) {
    let i = KEY_CACHE.info();
    (i.hits, i.misses, i.maxsize, i.currsize)
}

/// Empties the identity map; the old objects are released after the lock is let go,
/// since a finalizer may run Python code.
fn reset_identity(maxsize: usize) {
    let cap = NonZeroUsize::new(maxsize.max(1)).unwrap();
    let old = std::mem::replace(&mut *by_identity(), LruCache::new(cap));
    drop(old);
    let last = last_key().take();
    drop(last);
}

#[pyfunction]
pub fn key_cache_clear() {
    KEY_CACHE.clear();
    reset_identity(KEY_CACHE.maxsize());
}

#[pyfunction]
pub fn set_key_cache_size(maxsize: usize) {
    KEY_CACHE.set_maxsize(maxsize);
    // Re-converting a key object is cheap; start the identity map afresh at the new size.
    reset_identity(maxsize);
}

/// The bytes of a str or bytes key (PEM, DER or HMAC secret) as the test and benchmark hooks
/// take it, for a private `KeyEntry` outside the shared cache.
pub fn key_material(key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = key.extract::<String>() {
        return Ok(s.into_bytes());
    }
    key.extract::<Vec<u8>>()
        .map_err(|_| PyTypeError::new_err("key must be str or bytes"))
}
