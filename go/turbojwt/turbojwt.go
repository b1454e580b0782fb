// Package turbojwt verifies JWTs with turbojwt's Rust core through its C ABI (libturbojwt,
// native/capi in the turbojwt repository): the same decode sequence, verdicts and PyJWT
// exception class names and messages as turbojwt's Python API. See docs/c-abi.md.
//
// By default cgo compiles against the source tree's header (native/capi/include) and links the
// release build in native/target/release (build it with
// `cargo build --release --manifest-path native/Cargo.toml -p turbojwt-capi`); set CGO_CFLAGS
// and CGO_LDFLAGS to use an installed library instead.
package turbojwt

/*
#cgo CFLAGS: -I${SRCDIR}/../../native/capi/include
#cgo LDFLAGS: -L${SRCDIR}/../../native/target/release -lturbojwt -Wl,-rpath,${SRCDIR}/../../native/target/release
#include <stdlib.h>
#include "turbojwt.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// ABIVersion is the version of the C ABI this package is written for.
const ABIVersion = 1

// KeyKind says what the key bytes given to NewVerifier are.
type KeyKind uint32

const (
	// KeyMaterial: PEM (public key, private key, certificate), DER, an OpenSSH public key
	// line, or an HMAC secret, as PyJWT's decode takes a str/bytes key.
	KeyMaterial KeyKind = C.TJ_KEY_MATERIAL
	// KeyJWK: one JWK (JSON), bound to its "alg" (or PyJWT's guess from kty/crv).
	KeyJWK KeyKind = C.TJ_KEY_JWK
	// KeyJWKS: a JWK Set (JSON); the token's kid and alg pick the key.
	KeyJWKS KeyKind = C.TJ_KEY_JWKS
)

// Error is a refusal of a token or an error of a call. Name is the PyJWT exception class a
// token's verdict maps to ("ExpiredSignatureError", ...) or a call error's name
// ("BadPolicy", "Unsupported", ...); Code the ABI's TjCode; Message the text PyJWT's
// exception carries.
type Error struct {
	Code    int
	Name    string
	Message string
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

func codeName(code C.TjCode) string {
	return C.GoString(C.tj_code_name(C.int32_t(code)))
}

// Policy is what a verifier checks, as PyJWT's decode arguments (see docs/c-abi.md for the
// JSON it becomes). Algorithms is required.
type Policy struct {
	Algorithms []string `json:"algorithms"`
	// Audience and Issuer: one string, or any of several.
	Audience []string               `json:"audience,omitempty"`
	Issuer   []string               `json:"issuer,omitempty"`
	Subject  string                 `json:"subject,omitempty"`
	Leeway   float64                `json:"leeway,omitempty"`
	Type     string                 `json:"typ,omitempty"`
	Options  map[string]interface{} `json:"options,omitempty"`
}

// JSON is the policy as the ABI reads it.
func (p Policy) JSON() ([]byte, error) { return json.Marshal(p) }

// Claims of a verified token: the payload JSON exactly as signed, and the registered claims
// and header parameters read from it (empty or nil when absent or not of their type).
type Claims struct {
	Raw       json.RawMessage
	Issuer    string
	Subject   string
	Audience  []string
	ID        string
	ExpiresAt *float64
	NotBefore *float64
	IssuedAt  *float64
	KeyID     string
	Algorithm string
	Type      string
}

// Map decodes Raw (numbers as json.Number, so that large integers stay exact).
func (c Claims) Map() (map[string]interface{}, error) {
	var m map[string]interface{}
	dec := json.NewDecoder(bytes.NewReader(c.Raw))
	dec.UseNumber()
	err := dec.Decode(&m)
	return m, err
}

// Verifier is a key and a policy compiled once in the library; safe for concurrent use.
type Verifier struct {
	mu     sync.RWMutex
	handle *C.TjVerifier
}

func cbytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// NewVerifier compiles key (of the given kind) and policy (JSON, see Policy.JSON), keeping
// the claims of about cacheEntries verified tokens (0: no cache).
func NewVerifier(kind KeyKind, key []byte, policy []byte, cacheEntries int) (*Verifier, error) {
	if C.tj_abi_version() != ABIVersion {
		return nil, &Error{Code: -1, Name: "ABIVersion", Message: "libturbojwt implements another ABI version"}
	}
	if cacheEntries < 0 {
		cacheEntries = 0
	}
	var cerr *C.TjError
	kp, kl := cbytes(key)
	pp, pl := cbytes(policy)
	handle := C.tj_verifier_new(C.uint32_t(kind), kp, kl, pp, pl, C.size_t(cacheEntries), &cerr)
	runtime.KeepAlive(key)
	runtime.KeepAlive(policy)
	if handle == nil {
		code := C.tj_error_code(cerr)
		var n C.size_t
		msg := C.tj_error_message(cerr, &n)
		e := &Error{Code: int(code), Name: codeName(code), Message: C.GoStringN(msg, C.int(n))}
		C.tj_error_free(cerr)
		return nil, e
	}
	v := &Verifier{handle: handle}
	runtime.SetFinalizer(v, (*Verifier).Close)
	return v, nil
}

// Close frees the verifier; verifying with it afterwards gives an error. Safe to call twice.
func (v *Verifier) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.handle != nil {
		C.tj_verifier_free(v.handle)
		v.handle = nil
	}
}

// Verify verifies token as of now.
func (v *Verifier) Verify(token string) (Claims, error) {
	return v.verify(token, C.double(math.NaN()))
}

// VerifyAt verifies token as of at.
func (v *Verifier) VerifyAt(token string, at time.Time) (Claims, error) {
	return v.verify(token, C.double(float64(at.UnixNano())/1e9))
}

// VerifyAtUnix verifies token as of at seconds since the epoch.
func (v *Verifier) VerifyAtUnix(token string, at float64) (Claims, error) {
	return v.verify(token, C.double(at))
}

func (v *Verifier) verify(token string, at C.double) (Claims, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.handle == nil {
		return Claims{}, &Error{Code: int(C.TJ_ERR_NULL_ARGUMENT), Name: "NullArgument", Message: "the verifier is closed"}
	}
	result := C.tj_result_new()
	if result == nil {
		return Claims{}, &Error{Code: int(C.TJ_ERR_PANIC), Name: "Panic", Message: "out of memory"}
	}
	defer C.tj_result_free(result)
	data := []byte(token)
	tp, tl := cbytes(data)
	code := C.tj_verify(v.handle, tp, tl, at, result)
	runtime.KeepAlive(data)
	var n C.size_t
	if code != C.TJ_OK {
		msg := C.tj_result_message(result, &n)
		return Claims{}, &Error{Code: int(code), Name: codeName(code), Message: C.GoStringN(msg, C.int(n))}
	}
	raw := C.tj_result_claims(result, &n)
	c := Claims{Raw: C.GoBytes(unsafe.Pointer(raw), C.int(n))}
	field := func(claim C.uint32_t) string {
		p := C.tj_result_claim(result, claim, &n)
		if p == nil {
			return ""
		}
		return C.GoStringN((*C.char)(unsafe.Pointer(p)), C.int(n))
	}
	c.Issuer, c.Subject, c.ID = field(C.TJ_CLAIM_ISS), field(C.TJ_CLAIM_SUB), field(C.TJ_CLAIM_JTI)
	c.KeyID, c.Algorithm, c.Type = field(C.TJ_CLAIM_KID), field(C.TJ_CLAIM_ALG), field(C.TJ_CLAIM_TYP)
	for i := C.size_t(0); i < C.tj_result_aud_count(result); i++ {
		p := C.tj_result_aud(result, i, &n)
		c.Audience = append(c.Audience, C.GoStringN((*C.char)(unsafe.Pointer(p)), C.int(n)))
	}
	time := func(claim C.uint32_t) *float64 {
		var t C.double
		if !C.tj_result_time(result, claim, &t) {
			return nil
		}
		f := float64(t)
		return &f
	}
	c.ExpiresAt, c.NotBefore, c.IssuedAt = time(C.TJ_CLAIM_EXP), time(C.TJ_CLAIM_NBF), time(C.TJ_CLAIM_IAT)
	return c, nil
}

// Version is the library's version.
func Version() string { return C.GoString(C.tj_version()) }
