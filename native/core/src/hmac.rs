//! HMAC (RFC 2104) with the inner and outer hash states computed once per key.
//!
//! aws-lc-rs's `hmac::sign` clones a whole `HMAC_CTX` (three hash contexts, initialised
//! and wiped) per call. Here a call starts from two plain aws-lc SHA-2 states: SHA-256
//! (HS256, the common case) runs aws-lc's block function on the message and a padded last
//! block, SHA-384/512 copy the states and run Update/Final. The same aws-lc code hashes
//! every byte, without the per-call set-up. Tags are checked against aws-lc-rs's HMAC in
//! the tests below.

use aws_lc_rs::constant_time;
use aws_lc_sys::{
    SHA256_Final, SHA256_Init, SHA256_TransformBlocks, SHA256_Update, SHA384_Final, SHA384_Init,
    SHA384_Update, SHA512_Final, SHA512_Init, SHA512_Update, SHA256_CTX, SHA512_CTX,
};

use crate::alg::Hash;

/// Longest tag (HMAC-SHA-512).
pub const MAX_TAG_LEN: usize = 64;

/// A tag in a stack buffer.
pub struct Tag {
    bytes: [u8; MAX_TAG_LEN],
    len: usize,
}

impl AsRef<[u8]> for Tag {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[derive(Clone, Copy)]
enum States {
    Sha256 {
        inner: SHA256_CTX,
        outer: SHA256_CTX,
    },
    // SHA-384 is SHA-512 with other initial values and a truncated output.
    Sha384 {
        inner: SHA512_CTX,
        outer: SHA512_CTX,
    },
    Sha512 {
        inner: SHA512_CTX,
        outer: SHA512_CTX,
    },
}

/// An HMAC key: the hash states after absorbing `key ^ ipad` and `key ^ opad`.
pub struct HmacKey {
    states: States,
}

// The states are plain arrays and integers (aws-lc keeps no pointers in them), so the key is
// Send and Sync by itself, with no `unsafe impl`; this fails to compile if that changes.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<HmacKey>();
};

/// One SHA-2 function of aws-lc over a plain context type.
trait Sha2 {
    type Ctx: Copy;
    const BLOCK: usize;
    const OUT: usize;
    fn init() -> Self::Ctx;
    fn update(ctx: &mut Self::Ctx, data: &[u8]);
    fn finish(ctx: &mut Self::Ctx, out: &mut [u8; MAX_TAG_LEN]);
}

macro_rules! sha2 {
    ($name:ident, $ctx:ty, $block:expr, $out:expr, $init:ident, $update:ident, $final:ident) => {
        struct $name;
        impl Sha2 for $name {
            type Ctx = $ctx;
            const BLOCK: usize = $block;
            const OUT: usize = $out;
            fn init() -> $ctx {
                let mut ctx = std::mem::MaybeUninit::<$ctx>::uninit();
                // SAFETY: the pointer is valid for writes of one context (a local
                // MaybeUninit of the type Init takes), and Init writes every field of it
                // (it cannot fail), so the context is initialised when it returns.
                unsafe {
                    $init(ctx.as_mut_ptr());
                    ctx.assume_init()
                }
            }
            #[inline]
            fn update(ctx: &mut $ctx, data: &[u8]) {
                // SAFETY: `ctx` is an exclusive reference to a context that came from
                // `init` and only went through Update (so its buffered byte count is below
                // a block, as Update's buffering requires); Update reads exactly
                // `data.len()` bytes from `data`'s pointer.
                unsafe { $update(ctx, data.as_ptr().cast(), data.len()) };
            }
            #[inline]
            fn finish(ctx: &mut $ctx, out: &mut [u8; MAX_TAG_LEN]) {
                // SAFETY: `ctx` is a context from `init`/`update` as above; Final writes
                // the digest, $out <= MAX_TAG_LEN bytes, to `out`, which has room for
                // MAX_TAG_LEN.
                unsafe { $final(out.as_mut_ptr(), ctx) };
            }
        }
    };
}

sha2!(
    S256,
    SHA256_CTX,
    64,
    32,
    SHA256_Init,
    SHA256_Update,
    SHA256_Final
);
sha2!(
    S384,
    SHA512_CTX,
    128,
    48,
    SHA384_Init,
    SHA384_Update,
    SHA384_Final
);
sha2!(
    S512,
    SHA512_CTX,
    128,
    64,
    SHA512_Init,
    SHA512_Update,
    SHA512_Final
);

/// The states after absorbing the padded key XORed with ipad and opad.
fn precompute<H: Sha2>(key: &[u8]) -> (H::Ctx, H::Ctx) {
    let mut block = [0u8; 128];
    if key.len() > H::BLOCK {
        // Keys longer than a block are hashed first (RFC 2104 section 2).
        let mut ctx = H::init();
        H::update(&mut ctx, key);
        let mut digest = [0u8; MAX_TAG_LEN];
        H::finish(&mut ctx, &mut digest);
        block[..H::OUT].copy_from_slice(&digest[..H::OUT]);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let block = &mut block[..H::BLOCK];
    let pad = |byte: u8| {
        let padded: Vec<u8> = block.iter().map(|b| b ^ byte).collect();
        let mut ctx = H::init();
        H::update(&mut ctx, &padded);
        ctx
    };
    let states = (pad(0x36), pad(0x5c));
    block.fill(0);
    states
}

fn tag<H: Sha2>(inner: &H::Ctx, outer: &H::Ctx, msg: &[u8]) -> Tag {
    let mut bytes = [0u8; MAX_TAG_LEN];
    let mut ctx = *inner;
    H::update(&mut ctx, msg);
    H::finish(&mut ctx, &mut bytes);
    let mut ctx = *outer;
    H::update(&mut ctx, &bytes[..H::OUT]);
    H::finish(&mut ctx, &mut bytes);
    Tag { bytes, len: H::OUT }
}

/// The state words of a SHA-256 digest as its bytes (big-endian words).
fn sha256_digest(h: &[u32; 8], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// Runs SHA-256's compression over whole 64-byte blocks (none: nothing to do).
fn sha256_blocks(h: &mut [u32; 8], blocks: &[u8]) {
    debug_assert_eq!(blocks.len() % 64, 0);
    if !blocks.is_empty() {
        // SAFETY: TransformBlocks reads and writes the 8 state words behind its first
        // pointer (`h` is exactly that) and reads `num_blocks * 64` bytes behind its second
        // (`blocks` holds len / 64 whole blocks, checked above). aws-lc dispatches to the
        // same compression code (SHA-NI, AVX, ...) as SHA256_Update.
        unsafe { SHA256_TransformBlocks(h.as_mut_ptr(), blocks.as_ptr(), blocks.len() / 64) };
    }
}

/// HMAC-SHA-256 from the precomputed states in whole-block steps: the message's full blocks
/// straight from the input, its tail and the padding (FIPS 180-4 5.1.1) from a stack block
/// or two. SHA256_Update/Final compute the same with buffering and context copies besides,
/// which cost as much as a fifth of the hashing of a token-sized message.
fn tag_sha256(inner: &SHA256_CTX, outer: &SHA256_CTX, msg: &[u8]) -> Tag {
    // Each state has absorbed exactly one block (the padded key) and buffers nothing.
    debug_assert!(inner.num == 0 && outer.num == 0);
    let mut h = inner.h;
    let full = msg.len() / 64 * 64;
    sha256_blocks(&mut h, &msg[..full]);
    let tail = &msg[full..];
    let mut last = [0u8; 128];
    last[..tail.len()].copy_from_slice(tail);
    last[tail.len()] = 0x80;
    let n = if tail.len() < 56 { 64 } else { 128 };
    let bits = (64 + msg.len() as u64) * 8;
    last[n - 8..n].copy_from_slice(&bits.to_be_bytes());
    sha256_blocks(&mut h, &last[..n]);
    let mut block = [0u8; 64];
    sha256_digest(&h, &mut block[..32]);
    block[32] = 0x80;
    block[56..].copy_from_slice(&((64 + 32) * 8u64).to_be_bytes());
    let mut h = outer.h;
    sha256_blocks(&mut h, &block);
    let mut bytes = [0u8; MAX_TAG_LEN];
    sha256_digest(&h, &mut bytes[..32]);
    Tag { bytes, len: 32 }
}

impl HmacKey {
    pub fn new(hash: Hash, key: &[u8]) -> Self {
        let states = match hash {
            Hash::Sha256 => {
                let (inner, outer) = precompute::<S256>(key);
                States::Sha256 { inner, outer }
            }
            Hash::Sha384 => {
                let (inner, outer) = precompute::<S384>(key);
                States::Sha384 { inner, outer }
            }
            Hash::Sha512 => {
                let (inner, outer) = precompute::<S512>(key);
                States::Sha512 { inner, outer }
            }
        };
        HmacKey { states }
    }

    /// HMAC of `msg`.
    #[inline]
    pub fn sign(&self, msg: &[u8]) -> Tag {
        match &self.states {
            States::Sha256 { inner, outer } => tag_sha256(inner, outer, msg),
            States::Sha384 { inner, outer } => tag::<S384>(inner, outer, msg),
            States::Sha512 { inner, outer } => tag::<S512>(inner, outer, msg),
        }
    }

    /// Whether `tag` is the full-length HMAC of `msg`, compared in constant time.
    #[inline]
    pub fn verify(&self, msg: &[u8], tag: &[u8]) -> bool {
        constant_time::verify_slices_are_equal(self.sign(msg).as_ref(), tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::hmac;

    fn reference(hash: Hash, key: &[u8], msg: &[u8]) -> Vec<u8> {
        let alg = match hash {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
            Hash::Sha512 => hmac::HMAC_SHA512,
        };
        hmac::sign(&hmac::Key::new(alg, key), msg).as_ref().to_vec()
    }

    #[test]
    fn matches_aws_lc_hmac_for_key_and_message_lengths() {
        // Key lengths around both block sizes; message lengths around block boundaries.
        let key_lens = [0, 1, 31, 32, 63, 64, 65, 127, 128, 129, 300];
        let msg_lens = [0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 1000];
        for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
            for &kl in &key_lens {
                let key: Vec<u8> = (0..kl).map(|i| (i * 7 + 3) as u8).collect();
                let k = HmacKey::new(hash, &key);
                for &ml in &msg_lens {
                    let msg: Vec<u8> = (0..ml).map(|i| (i * 13 + 1) as u8).collect();
                    let want = reference(hash, &key, &msg);
                    assert_eq!(
                        k.sign(&msg).as_ref(),
                        &want[..],
                        "{hash:?} key {kl} msg {ml}"
                    );
                    assert!(k.verify(&msg, &want));
                }
            }
        }
    }

    #[test]
    fn sha256_in_whole_blocks_matches_aws_lc_for_every_tail() {
        // Every message length up to three blocks: each tail length, each padding case.
        for kl in [0, 32, 64, 100] {
            let key: Vec<u8> = (0..kl).map(|i| (i * 5 + 1) as u8).collect();
            let k = HmacKey::new(Hash::Sha256, &key);
            for ml in 0..=200 {
                let msg: Vec<u8> = (0..ml).map(|i| (i * 31 + 7) as u8).collect();
                let want = reference(Hash::Sha256, &key, &msg);
                assert_eq!(k.sign(&msg).as_ref(), &want[..], "key {kl} msg {ml}");
            }
        }
    }

    #[test]
    fn rfc4231_case_2() {
        let msg = b"what do ya want for nothing?";
        let k = HmacKey::new(Hash::Sha256, b"Jefe");
        let want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let got: String = k
            .sign(msg)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn refuses_wrong_truncated_and_extended_tags() {
        let k = HmacKey::new(Hash::Sha512, b"secret");
        let good = k.sign(b"msg").as_ref().to_vec();
        let mut bad = good.clone();
        bad[10] ^= 1;
        assert!(!k.verify(b"msg", &bad));
        assert!(!k.verify(b"msg", &good[..32]));
        let mut long = good.clone();
        long.push(0);
        assert!(!k.verify(b"msg", &long));
        assert!(!k.verify(b"msg", b""));
    }
}
