-- resty.turbojwt: turbojwt's JWT verification (libturbojwt, the C ABI of native/capi) in
-- LuaJIT, for OpenResty, Apache APISIX and nginx with the lua module. docs/nginx-lua.md.
--
--   local turbojwt = require "resty.turbojwt"
--   local verifier, err = turbojwt.new{ key = pem, algorithms = { "RS256" }, audience = "api" }
--   local claims, err, name = verifier:verify(token)
--
-- In nginx: keys loaded per worker in init_worker_by_lua* with turbojwt.watch(), requests
-- checked in access_by_lua* with turbojwt.access(); see examples/nginx-lua/.
--
-- The verdicts are the library's, which are PyJWT's (and turbojwt.decode's): the error
-- `name` is the PyJWT exception class ("ExpiredSignatureError", ...) and `err` its message.
-- The answers of access() are those of turbojwt's Python gateway (python/turbojwt/gateway/
-- asgi.py: RFC 6750 401/403 with WWW-Authenticate, 400 for an ambiguous request, 503 with no
-- key) and its claim headers are encoded as the gateway's (policy.py, header_value).

local ffi = require "ffi"
local cjson_safe = require "cjson.safe"

local ngx = ngx -- nil outside nginx (a standalone LuaJIT): only access() and watch()'s timer need it
local type, pairs, ipairs, tostring, tonumber, setmetatable = type, pairs, ipairs, tostring, tonumber, setmetatable
local byte, find, format, sub, gsub, lower = string.byte, string.find, string.format, string.sub,
    string.gsub, string.lower
local concat = table.concat

local _M = { _VERSION = "0.1.0" }

-- BEGIN GENERATED CDEF: the declarations of native/capi/include/turbojwt.h (comments,
-- directives and #defines taken out). tests/lua/test_resty_turbojwt.py checks it is current;
-- TURBOJWT_BLESS=1 on that test rewrites it. Declared once per LuaJIT state: a second load of
-- this module (lua_code_cache off, another copy on the path) must not redefine the types.
if not pcall(ffi.typeof, "TjVerifier") then ffi.cdef [[
typedef enum {
  TJ_OK = 0,
  TJ_ERR_INVALID_TOKEN = 1,
  TJ_ERR_DECODE = 2,
  TJ_ERR_INVALID_SIGNATURE = 3,
  TJ_ERR_EXPIRED_SIGNATURE = 4,
  TJ_ERR_IMMATURE_SIGNATURE = 5,
  TJ_ERR_INVALID_AUDIENCE = 6,
  TJ_ERR_INVALID_ISSUER = 7,
  TJ_ERR_INVALID_ISSUED_AT = 8,
  TJ_ERR_INVALID_ALGORITHM = 9,
  TJ_ERR_INVALID_KEY = 10,
  TJ_ERR_MISSING_REQUIRED_CLAIM = 11,
  TJ_ERR_INVALID_SUBJECT = 12,
  TJ_ERR_INVALID_JTI = 13,
  TJ_ERR_KEY_NOT_FOUND = 14,
  TJ_ERR_JWK_CLIENT = 15,
  TJ_ERR_INVALID_TYPE = 16,
  TJ_ERR_JWK_SET = 17,
  TJ_ERR_UNSUPPORTED = 100,
  TJ_ERR_NULL_ARGUMENT = 101,
  TJ_ERR_BAD_ARGUMENT = 102,
  TJ_ERR_BAD_POLICY = 103,
  TJ_ERR_INVALID_UTF8 = 104,
  TJ_ERR_PANIC = 105,
} TjCode;
typedef enum {
  TJ_KEY_MATERIAL = 1,
  TJ_KEY_JWK = 2,
  TJ_KEY_JWKS = 3,
} TjKeyKind;
typedef enum {
  TJ_CLAIM_ISS = 1,
  TJ_CLAIM_SUB = 2,
  TJ_CLAIM_AUD = 3,
  TJ_CLAIM_JTI = 4,
  TJ_CLAIM_EXP = 5,
  TJ_CLAIM_NBF = 6,
  TJ_CLAIM_IAT = 7,
  TJ_CLAIM_KID = 8,
  TJ_CLAIM_ALG = 9,
  TJ_CLAIM_TYP = 10,
} TjClaim;
typedef struct TjError TjError;
typedef struct TjResult TjResult;
typedef struct TjVerifier TjVerifier;
const char *tj_version(void);
uint32_t tj_abi_version(void);
const char *tj_code_name(int32_t code);
TjVerifier *tj_verifier_new(uint32_t key_kind,
                            const uint8_t *key,
                            size_t key_len,
                            const uint8_t *policy,
                            size_t policy_len,
                            size_t cache_entries,
                            TjError **error_out);
void tj_verifier_free(TjVerifier *verifier);
TjCode tj_verifier_check_key(const TjVerifier *verifier, TjError **error_out);
TjCode tj_error_code(const TjError *error);
const char *tj_error_message(const TjError *error, size_t *len_out);
void tj_error_free(TjError *error);
TjResult *tj_result_new(void);
void tj_result_free(TjResult *result);
TjCode tj_verify(const TjVerifier *verifier,
                 const uint8_t *token,
                 size_t token_len,
                 double at,
                 TjResult *result);
TjCode tj_result_code(const TjResult *result);
const char *tj_result_message(const TjResult *result, size_t *len_out);
const uint8_t *tj_result_claims(const TjResult *result, size_t *len_out);
const uint8_t *tj_result_claim(const TjResult *result, uint32_t claim, size_t *len_out);
size_t tj_result_aud_count(const TjResult *result);
const uint8_t *tj_result_aud(const TjResult *result, size_t index, size_t *len_out);
bool tj_result_time(const TjResult *result, uint32_t claim, double *out);
]] end
local TJ_ABI_VERSION = 1
-- END GENERATED CDEF

_M.ABI_VERSION = TJ_ABI_VERSION

local json = cjson_safe.new()
-- Claims are JSON the library has parsed already (nesting at most 64 deep).
pcall(json.decode_max_depth, 1000)
-- OpenResty's cjson can mark decoded arrays, telling [] from {} (upstream lua-cjson cannot).
local arrays_marked = cjson_safe.array_mt ~= nil and pcall(json.decode_array_with_array_mt, true)

---------------------------------------------------------------------------------------------
-- The library

local lib           -- the loaded libturbojwt (ffi.load), on first use
local library_path  -- set by _M.library(path)

-- Where libturbojwt is: the path given to turbojwt.library(), $TURBOJWT_LIBRARY (nginx passes
-- it only with `env TURBOJWT_LIBRARY;` in its main context), libturbojwt.so on
-- package.cpath (lua_package_cpath), else the system's search (ld.so: LD_LIBRARY_PATH,
-- /etc/ld.so.conf).
local function find_library()
    if library_path then
        return library_path
    end
    local env = os.getenv("TURBOJWT_LIBRARY")
    if env and env ~= "" then
        return env
    end
    local found = package.searchpath("libturbojwt", package.cpath)
    return found or "turbojwt"
end

local function load()
    if lib then
        return lib
    end
    local path = find_library()
    local ok, loaded = pcall(ffi.load, path)
    if not ok then
        return nil, "cannot load libturbojwt (" .. path .. "): " .. tostring(loaded)
    end
    local abi = loaded.tj_abi_version()
    if abi ~= TJ_ABI_VERSION then
        return nil, format("%s implements ABI version %d; resty.turbojwt needs %d", path, abi, TJ_ABI_VERSION)
    end
    lib = loaded
    return lib
end

--- Loads libturbojwt now, from `path` when given (see find_library for the default).
-- Returns the library's version ("0.1.0"), or nil and an error. A path given after the
-- library was loaded is an error (verifiers already made use the loaded one).
function _M.library(path)
    if path then
        if lib and path ~= library_path then
            return nil, "libturbojwt is already loaded from " .. tostring(library_path or find_library())
        end
        library_path = path
    end
    local l, err = load()
    if not l then
        return nil, err
    end
    return ffi.string(l.tj_version())
end

local function code_name(code)
    return ffi.string(lib.tj_code_name(code))
end

---------------------------------------------------------------------------------------------
-- Verifiers

local KEY_KINDS = { pem = 1, secret = 1, material = 1, jwk = 2, jwks = 3 }
local POLICY_MEMBERS = {
    algorithms = true, audience = true, issuer = true, subject = true, leeway = true, typ = true,
}
local CONFIG_MEMBERS = {
    key = true, key_kind = true, required = true, options = true, cache = true,
    cache_ttl = true, cache_max_token_bytes = true, max_token_bytes = true,
}
for name in pairs(POLICY_MEMBERS) do
    CONFIG_MEMBERS[name] = true
end

-- Longer tokens are refused unread, as malformed (the policy's max_token_bytes): the Python
-- gateway's limit, not the library's 1 MiB.
local MAX_TOKEN_BYTES = 8192

local LIST_MEMBERS = { algorithms = true, audience = true, issuer = true, require = true }

-- A member's JSON: lists (a table) always as JSON arrays (cjson writes an empty table as {}).
local function member_json(name, value)
    if type(value) ~= "table" then
        return json.encode(value)
    end
    if not LIST_MEMBERS[name] then
        return nil, name .. " must not be a table"
    end
    local parts = {}
    for k in pairs(value) do
        if type(k) ~= "number" or k < 1 or k > #value or k % 1 ~= 0 then
            return nil, name .. " must be a list"
        end
    end
    for i, item in ipairs(value) do
        parts[i] = json.encode(item)
    end
    return "[" .. concat(parts, ",") .. "]"
end

local function object_json(members)
    local parts = {}
    for name, value in pairs(members) do
        local text, err = member_json(name, value)
        if not text then
            return nil, err
        end
        parts[#parts + 1] = json.encode(name) .. ":" .. text
    end
    return "{" .. concat(parts, ",") .. "}"
end

-- The policy JSON of tj_verifier_new (docs/c-abi.md) from new()'s configuration.
local function policy_json(config)
    local parts = {}
    for name in pairs(POLICY_MEMBERS) do
        if config[name] ~= nil then
            local text, err = member_json(name, config[name])
            if not text then
                return nil, err
            end
            parts[#parts + 1] = json.encode(name) .. ":" .. text
        end
    end
    for _, name in ipairs({ "cache_ttl", "cache_max_token_bytes" }) do
        if config[name] ~= nil then
            parts[#parts + 1] = json.encode(name) .. ":" .. json.encode(config[name])
        end
    end
    parts[#parts + 1] = '"max_token_bytes":' .. json.encode(config.max_token_bytes or MAX_TOKEN_BYTES)
    if config.options ~= nil or config.required ~= nil then
        if config.options ~= nil and type(config.options) ~= "table" then
            return nil, "options must be a table"
        end
        local options = {}
        for k, v in pairs(config.options or {}) do
            options[k] = v
        end
        if config.required ~= nil then
            options.require = config.required
        end
        local text, err = object_json(options)
        if not text then
            return nil, err
        end
        parts[#parts + 1] = '"options":' .. text
    end
    return "{" .. concat(parts, ",") .. "}"
end

local Verifier = {}
Verifier.__index = Verifier

--- A verifier: a key and a policy compiled once by libturbojwt.
--
-- config: key (the key's bytes), key_kind ("pem": PEM, DER or OpenSSH public key;
-- "secret": an HMAC secret, the same to the library; "jwk": one JWK as JSON; "jwks": a JWK
-- Set), algorithms (required), audience, issuer (a string or a list), subject, leeway
-- (seconds), typ, required (claims that must be present: options.require), options
-- (PyJWT's decode options: verify_exp, strict_aud, ...), cache (keep the claims of about N
-- verified tokens; 0: none), cache_ttl, cache_max_token_bytes, max_token_bytes (8192: longer
-- tokens are refused unread as malformed, a DecodeError).
--
-- Returns the verifier, or nil, the error message and its name ("BadPolicy",
-- "InvalidKeyError", ...).
function _M.new(config)
    if type(config) ~= "table" then
        return nil, "the configuration must be a table", "BadArgument"
    end
    for name in pairs(config) do
        if not CONFIG_MEMBERS[name] then
            return nil, "unknown configuration member " .. tostring(name), "BadArgument"
        end
    end
    local l, err = load()
    if not l then
        return nil, err, "LibraryNotFound"
    end
    local key = config.key
    if type(key) ~= "string" then
        return nil, "key must be a string (the key's bytes)", "BadArgument"
    end
    local kind = KEY_KINDS[config.key_kind or "pem"]
    if not kind then
        return nil, 'key_kind must be "pem", "secret", "jwk" or "jwks"', "BadArgument"
    end
    local cache = config.cache or 0
    if type(cache) ~= "number" or cache < 0 or cache ~= math.floor(cache) then
        return nil, "cache must be a count of tokens", "BadArgument"
    end
    local policy, perr = policy_json(config)
    if not policy then
        return nil, perr, "BadArgument"
    end
    local error_out = ffi.new("TjError *[1]")
    local handle = l.tj_verifier_new(kind, key, #key, policy, #policy, cache, error_out)
    if handle == nil then
        local e = error_out[0]
        local code = tonumber(l.tj_error_code(e))
        local message = ffi.string(l.tj_error_message(e, nil))
        l.tj_error_free(e)
        return nil, message, code_name(code)
    end
    local result = l.tj_result_new()
    if result == nil then
        l.tj_verifier_free(handle)
        return nil, "out of memory", "Panic"
    end
    return setmetatable({
        handle = ffi.gc(handle, l.tj_verifier_free),
        -- One result per verifier: a worker runs one Lua handler at a time and verify() does
        -- not yield, so nothing else uses it during a call.
        result = ffi.gc(result, l.tj_result_free),
        size = ffi.new("size_t[1]"),
    }, Verifier)
end

-- Verifies into self.result; returns nil on success, else the message and the code's name.
function Verifier:run(token, at)
    if type(token) ~= "string" then
        return "the token must be a string", "BadArgument"
    end
    if at == nil then
        at = 0 / 0 -- NaN: the library reads the clock
    elseif type(at) ~= "number" then
        return "at must be a number (seconds since the epoch)", "BadArgument"
    end
    local code = lib.tj_verify(self.handle, token, #token, at, self.result)
    if code == 0 then
        return nil
    end
    local message = ffi.string(lib.tj_result_message(self.result, self.size), self.size[0])
    return message, code_name(code)
end

--- Verifies `token` as of `at` (seconds since the epoch; nil: now). Returns its claims (a
-- table decoded with cjson: JSON null is cjson.null), or nil, the message PyJWT's exception
-- would carry and that exception's class name ("ExpiredSignatureError").
function Verifier:verify(token, at)
    local message, name = self:run(token, at)
    if message then
        return nil, message, name
    end
    local size = self.size
    local claims_ptr = lib.tj_result_claims(self.result, size)
    local claims, err = json.decode(ffi.string(claims_ptr, size[0]))
    if type(claims) ~= "table" then
        -- The library gave claims it parsed as a JSON object: cjson must read them too.
        return nil, "the claims cannot be decoded: " .. tostring(err), "Panic"
    end
    return claims
end

--- Whether the key can verify tokens of at least one of the policy's algorithms (the library
-- reads PEM, DER, OpenSSH and secret key material when it first verifies, as PyJWT does):
-- tj_verifier_check_key. Returns true, or nil, why not (PyJWT's InvalidKeyError message where
-- it has one) and the error's name.
function Verifier:check_key()
    local error_out = ffi.new("TjError *[1]")
    local code = tonumber(lib.tj_verifier_check_key(self.handle, error_out))
    if code == 0 then
        return true
    end
    local e = error_out[0]
    local message = ffi.string(lib.tj_error_message(e, nil))
    lib.tj_error_free(e)
    return nil, message, code_name(code)
end

local STRING_CLAIMS = { iss = 1, sub = 2, jti = 4, kid = 8, alg = 9, typ = 10 }
local TIME_CLAIMS = { exp = 5, nbf = 6, iat = 7 }

--- As verify(), but returns only the registered claims and header parameters, read by the
-- library (no JSON decoding): iss, sub, jti, kid, alg, typ (strings), aud (a list of
-- strings), exp, nbf, iat (numbers); absent (or not of that type) ones are nil.
function Verifier:verify_registered(token, at)
    local message, name = self:run(token, at)
    if message then
        return nil, message, name
    end
    local result, size, out = self.result, self.size, {}
    for claim, id in pairs(STRING_CLAIMS) do
        local p = lib.tj_result_claim(result, id, size)
        if p ~= nil then
            out[claim] = ffi.string(p, size[0])
        end
    end
    local count = tonumber(lib.tj_result_aud_count(result))
    if count > 0 then
        local aud = {}
        for i = 0, count - 1 do
            local p = lib.tj_result_aud(result, i, size)
            aud[i + 1] = ffi.string(p, size[0])
        end
        out.aud = aud
    end
    local time = ffi.new("double[1]")
    for claim, id in pairs(TIME_CLAIMS) do
        if lib.tj_result_time(result, id, time) then
            out[claim] = time[0]
        end
    end
    return out
end

---------------------------------------------------------------------------------------------
-- Claim headers (python/turbojwt/gateway/policy.py: encode_header_text, header_value)

-- Bytes other than printable ASCII (0x21-0x7E) without %, "," and '"' (0x25, 0x2C, 0x22), and
-- other than a space (kept inside, encoded at either end).
local NOT_PLAIN = "[^\33\35\36\38-\43\45-\126 ]"

local function percent(c)
    return format("%%%02X", byte(c))
end

--- `text` in the claim header encoding: unchanged when it is printable ASCII without "%",
-- ",", '"' or a space at either end; otherwise those characters and every other byte
-- (controls, DEL, every byte of a non-ASCII character's UTF-8) become %XX.
function _M.encode_header_text(text)
    if not find(text, NOT_PLAIN) and byte(text, 1) ~= 32 and byte(text, -1) ~= 32 then
        return text
    end
    local n = #text
    local out = gsub(text, NOT_PLAIN, percent)
    if byte(out, 1) == 32 then
        out = "%20" .. sub(out, 2)
    end
    if n > 1 and byte(out, -1) == 32 then
        out = sub(out, 1, -2) .. "%20"
    end
    return out
end

-- Python's repr of a float (json.dumps writes floats so): the shortest digits that read back
-- as the same double, fixed notation for a decimal exponent in [-4, 16), else d.ddde+XX.
local function float_text(x)
    if x ~= x then
        return "NaN"
    elseif x == math.huge then
        return "Infinity"
    elseif x == -math.huge then
        return "-Infinity"
    end
    local s
    for precision = 1, 17 do
        s = format("%." .. precision .. "e", x)
        if tonumber(s) == x then
            break
        end
    end
    local sign, int, frac, exp = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
    local digits = gsub(int .. frac, "0+$", "")
    if digits == "" then
        digits = "0"
    end
    local e = tonumber(exp)
    if e >= -4 and e < 16 then
        local point = e + 1 -- digits before the decimal point
        local text
        if point <= 0 then
            text = "0." .. string.rep("0", -point) .. digits
        elseif point >= #digits then
            text = digits .. string.rep("0", point - #digits) .. ".0"
        else
            text = sub(digits, 1, point) .. "." .. sub(digits, point + 1)
        end
        return sign .. text
    end
    local mantissa = #digits > 1 and (sub(digits, 1, 1) .. "." .. sub(digits, 2)) or digits
    return format("%s%se%s%02d", sign, mantissa, e < 0 and "-" or "+", math.abs(e))
end

local json_compact -- forward: objects and nested lists as compact JSON

-- Python's json.dumps of a str (ensure_ascii): \" \\ \n \r \t \b \f, other controls and every
-- non-ASCII character as \uXXXX (UTF-16, surrogate pairs above U+FFFF).
local JSON_ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
    ["\b"] = "\\b", ["\f"] = "\\f" }

local function json_string(s)
    local out = gsub(s, '[%z\1-\31"\\\127-\255][\128-\191]*', function(c)
        local simple = JSON_ESCAPES[c]
        if simple then
            return simple
        end
        local b = byte(c)
        if b < 128 then
            return format("\\u%04x", b) .. sub(c, 2)
        end
        local cp, n
        if b >= 0xF0 then
            cp, n = b - 0xF0, 3
        elseif b >= 0xE0 then
            cp, n = b - 0xE0, 2
        else
            cp, n = b - 0xC0, 1
        end
        if #c ~= n + 1 then -- not a whole UTF-8 sequence (the library refuses those): as is
            return c
        end
        for i = 2, n + 1 do
            cp = cp * 64 + (byte(c, i) - 0x80)
        end
        if cp >= 0x10000 then
            cp = cp - 0x10000
            return format("\\u%04x\\u%04x", 0xD800 + math.floor(cp / 1024), 0xDC00 + cp % 1024)
        end
        return format("\\u%04x", cp)
    end)
    return '"' .. out .. '"'
end

local function is_list(t)
    local n = #t
    if n == 0 then
        if next(t) ~= nil then
            return false
        end
        if arrays_marked then
            return getmetatable(t) == cjson_safe.array_mt
        end
        return true -- an empty table: taken for an empty list
    end
    for k in pairs(t) do
        if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then
            return false
        end
    end
    return true
end

-- A number as json.dumps writes the value Python's json.loads gave: an integral double is
-- written as an int (JSON 1.0 therefore gives "1", where Python says "1.0": cjson does not keep
-- the difference).
local function number_text(x)
    if x == math.floor(x) and math.abs(x) < 2 ^ 63 then
        return format("%d", x)
    end
    return float_text(x)
end

local function scalar_text(v)
    local t = type(v)
    if t == "string" then
        return v
    elseif t == "number" then
        return number_text(v)
    elseif t == "boolean" then
        return v and "true" or "false"
    elseif v == cjson_safe.null then
        return "null"
    elseif t == "table" then
        return json_compact(v)
    end
    return tostring(v)
end

json_compact = function(v)
    if type(v) == "table" then
        local parts = {}
        if is_list(v) then
            for i, item in ipairs(v) do
                parts[i] = json_compact(item)
            end
            return "[" .. concat(parts, ",") .. "]"
        end
        for k, item in pairs(v) do
            parts[#parts + 1] = json_string(tostring(k)) .. ":" .. json_compact(item)
        end
        return "{" .. concat(parts, ",") .. "}"
    elseif type(v) == "string" then
        return json_string(v)
    end
    return scalar_text(v)
end

--- A claim as a header value (nil when absent or null at the top): a string encoded with
-- encode_header_text; a list its members, each encoded, joined with ","; numbers and booleans
-- their JSON text; objects and nested lists their compact JSON, encoded.
function _M.header_value(value)
    if value == nil or value == cjson_safe.null then
        return nil
    end
    if type(value) == "table" and is_list(value) then
        local parts = {}
        for i, item in ipairs(value) do
            parts[i] = _M.encode_header_text(scalar_text(item))
        end
        return concat(parts, ",")
    end
    return _M.encode_header_text(scalar_text(value))
end

--- The value at a dotted path of the claims ("realm_access.roles"), or nil.
function _M.claim_at(claims, path)
    local value = claims
    for part in string.gmatch(path, "[^.]+") do
        if type(value) ~= "table" then
            return nil
        end
        value = value[part]
    end
    return value
end

---------------------------------------------------------------------------------------------
-- Keys loaded per worker, reloaded when their file changes

local watched = {} -- name -> { config, verifier, content, rejected }


local function read_file(path)
    local f, err = io.open(path, "rb")
    if not f then
        return nil, err
    end
    local data = f:read("*a")
    f:close()
    if not data then
        return nil, path .. ": cannot be read"
    end
    return data
end

-- Reads the key file; a new content that makes a verifier replaces the verifier, one that
-- does not is logged once and the previous verifier stays.
local function refresh(entry)
    local data, err = read_file(entry.key_file)
    if not data then
        if entry.failure ~= err then
            entry.failure = err
            if ngx then -- (nothing to log to in a standalone LuaJIT)
                ngx.log(ngx.ERR, "turbojwt: key ", entry.name, ": ", err,
                    entry.verifier and "; keeping the key loaded before" or "")
            end
        end
        return nil, err
    end
    entry.failure = nil
    if data == entry.content then
        return true
    end
    if data == entry.rejected then
        return nil, entry.rejected_error
    end
    local config = {}
    for k, v in pairs(entry.config) do
        config[k] = v
    end
    config.key = data
    local verifier, message, name = _M.new(config)
    if verifier then
        -- Key material is only read when a token comes: a bad file must fail here.
        local usable, why, why_name = verifier:check_key()
        if not usable then
            verifier, message, name = nil, why, why_name
        end
    end
    if not verifier then
        local why = format("%s: %s (%s)", entry.key_file, message, name)
        entry.rejected, entry.rejected_error = data, why
        if ngx then
            ngx.log(ngx.ERR, "turbojwt: key ", entry.name, ": ", why,
                entry.verifier and "; keeping the key loaded before" or "")
        end
        return nil, why
    end
    local first = entry.verifier == nil
    entry.verifier, entry.content, entry.rejected = verifier, data, nil
    if ngx then
        ngx.log(ngx.NOTICE, "turbojwt: key ", entry.name, first and " loaded from " or " reloaded from ",
            entry.key_file)
    end
    return true
end

--- Loads a verifier named `name` from `config.key_file` (with new()'s other members) and,
-- in nginx, re-reads the file every `config.interval` seconds (default 5) in this worker,
-- replacing the verifier when the file's content changed and makes a valid key (a file that
-- does not keeps the previous verifier, and is logged). Call it in init_worker_by_lua*.
-- Returns true, or nil and why the first load failed (the timer keeps trying: access()
-- answers 503 until a key loads).
function _M.watch(name, config)
    if type(name) ~= "string" or type(config) ~= "table" or type(config.key_file) ~= "string" then
        return nil, "watch(name, config): config.key_file is the key file's path"
    end
    local interval = config.interval or 5
    if type(interval) ~= "number" or interval <= 0 then
        return nil, "interval must be a positive number of seconds"
    end
    local verifier_config = {}
    for k, v in pairs(config) do
        if k ~= "key_file" and k ~= "interval" then
            verifier_config[k] = v
        end
    end
    local entry = { name = name, key_file = config.key_file, config = verifier_config }
    watched[name] = entry
    local ok, err = refresh(entry)
    if ngx and ngx.timer then
        local timer_ok, timer_err = ngx.timer.every(interval, function(premature)
            if not premature then
                refresh(entry)
            end
        end)
        if not timer_ok then
            ngx.log(ngx.ERR, "turbojwt: key ", name, ": no reload timer: ", timer_err)
        end
    end
    return ok, err
end

--- The verifier `watch(name, ...)` loaded in this worker, or nil.
function _M.verifier(name)
    local entry = watched[name]
    return entry and entry.verifier
end

---------------------------------------------------------------------------------------------
-- access_by_lua*: the token of a request, verified, with the gateway's answers

-- Exception class -> the gateway's sanitized error_description (asgi.py _REASONS, resolved
-- for each class the library names: the first entry the class is a subclass of).
local DESCRIPTIONS = {
    ExpiredSignatureError = "The token has expired",
    ImmatureSignatureError = "The token is not yet valid",
    InvalidAudienceError = "The token is not meant for this audience",
    InvalidIssuerError = "The token's issuer is not accepted",
    InvalidIssuedAtError = "The token's issue time is invalid",
    MissingRequiredClaimError = "The token lacks a required claim",
    InvalidTypeError = "The token is not of the required type",
    InvalidSignatureError = "The token's signature is invalid",
    KeyNotFoundError = "The token is signed with an unknown key",
    InvalidAlgorithmError = "The token's algorithm is not accepted",
    DecodeError = "The token is malformed",
}
local INVALID = "The token is invalid" -- every other class (InvalidTokenError, InvalidKeyError, ...)
_M.DESCRIPTIONS = DESCRIPTIONS

--- The RFC 6750 answer for a verdict's class name: status, error, error_description.
function _M.denial_for(name)
    if name == "PyJWKClientError" then -- no keys to be had
        return 503, "temporarily_unavailable", "The signing keys are unavailable"
    end
    return 401, "invalid_token", DESCRIPTIONS[name] or INVALID
end

-- A JSON string of printable ASCII (the answers' texts): Python's json.dumps.
local function ascii_json(s)
    return '"' .. gsub(s, '[%c"\\\128-\255]', function(c)
        return JSON_ESCAPES[c] or format("\\u%04x", byte(c))
    end) .. '"'
end

-- Sends a refusal (asgi.py Denial: challenge() and body()) and ends the request.
local function deny(realm, status, err, description, scope)
    if status == 401 or status == 403 then
        local params = { 'realm="' .. realm .. '"' }
        if err then
            params[#params + 1] = 'error="' .. err .. '"'
        end
        if description then
            params[#params + 1] = 'error_description="' .. description .. '"'
        end
        if scope then
            params[#params + 1] = 'scope="' .. scope .. '"'
        end
        ngx.header["WWW-Authenticate"] = "Bearer " .. concat(params, ", ")
    end
    local body = { '{"error": ', ascii_json(err or "unauthorized") }
    if description then
        body[#body + 1] = ', "error_description": ' .. ascii_json(description)
    end
    if scope then
        body[#body + 1] = ', "scope": ' .. ascii_json(scope)
    end
    body[#body + 1] = "}"
    body = concat(body)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #body
    ngx.print(body)
    return ngx.exit(ngx.HTTP_OK)
end

local B64TOKEN = "^[A-Za-z0-9%-._~+/]+=*$"

local function strip(s)
    return (s:match("^[ \t]*(.-)[ \t]*$"))
end

-- The token of the Authorization header: nil when absent or of another scheme; false and why
-- when malformed (asgi.py TokenSource._from_authorization).
local function from_authorization(value)
    if value == nil then
        return nil
    end
    if type(value) == "table" then
        if #value > 1 then
            return false, "several Authorization headers"
        end
        value = value[1]
    end
    value = strip(value)
    if value == "" then
        return nil
    end
    local scheme = value:match("^[!#$%%&'*+%-.^_`|~0-9A-Za-z]+")
    if not scheme then
        return false, "malformed Authorization header"
    end
    if lower(scheme) ~= "bearer" then
        return nil -- another scheme (e.g. Basic): not ours
    end
    local token = sub(value, #scheme + 1):match("^ +([A-Za-z0-9%-._~+/]+=*)$")
    if not token then
        return false, "the Bearer credentials are malformed"
    end
    return token
end

-- The tokens of recent Authorization header values (a worker sees the same few clients'
-- headers again and again): from_authorization's answer, without its pattern matching, which
-- LuaJIT does not compile (a trace that reaches it ends, and access() runs interpreted).
-- Only well-formed values are kept; the table is emptied when it reaches AUTH_MEMO_MAX.
local AUTH_MEMO_MAX = 4096
local auth_memo, auth_memo_size = {}, 0

local function authorization_token(value)
    if type(value) ~= "string" then
        return from_authorization(value)
    end
    local token = auth_memo[value]
    if token then
        return token
    end
    local why
    token, why = from_authorization(value)
    if token then
        if auth_memo_size >= AUTH_MEMO_MAX then
            auth_memo, auth_memo_size = {}, 0
        end
        auth_memo[value], auth_memo_size = token, auth_memo_size + 1
    end
    return token, why
end

-- A cookie or query token: nil when empty; refused outside the b64token set.
local function checked(token)
    if token == "" then
        return nil
    end
    if not find(token, B64TOKEN) then
        return false, "malformed token"
    end
    return token
end

local function one_value(found, what)
    local value, count = nil, 0
    for v in pairs(found) do
        value, count = v, count + 1
    end
    if count > 1 then
        return false, what
    end
    if value == nil then
        return nil
    end
    return checked(value)
end

local function from_cookies(values, cookie)
    if values == nil then
        return nil
    end
    if type(values) == "string" then
        values = { values }
    end
    local found = {}
    for _, raw in ipairs(values) do
        for pair in string.gmatch(raw, "[^;]+") do
            local eq = find(pair, "=", 1, true)
            if eq and strip(sub(pair, 1, eq - 1)) == cookie then
                local value = strip(sub(pair, eq + 1))
                if #value >= 2 and byte(value, 1) == 34 and byte(value, -1) == 34 then
                    value = sub(value, 2, -2)
                end
                found[value] = true
            end
        end
    end
    return one_value(found, "several " .. cookie .. " cookies")
end

-- Python's parse_qsl (keep_blank_values) values of `name` with `separator`.
local function query_values(query, name, separator)
    local found = {}
    for pair in string.gmatch(query, "[^" .. separator .. "]+") do
        local eq = find(pair, "=", 1, true)
        local k, v = pair, ""
        if eq then
            k, v = sub(pair, 1, eq - 1), sub(pair, eq + 1)
        end
        if ngx.unescape_uri((gsub(k, "+", " "))) == name then
            found[ngx.unescape_uri((gsub(v, "+", " ")))] = true
        end
    end
    return found
end

local function from_query(query, name)
    if not query or query == "" then
        return nil
    end
    -- "&" separates parameters; some parsers split on ";" too: both readings must agree.
    local values = query_values(query, name, "&")
    local both = query_values((gsub(query, ";", "&")), name, "&")
    local count = 0
    for v in pairs(values) do
        count = count + 1
        if not both[v] then
            count = 2
        end
    end
    for v in pairs(both) do
        if not values[v] then
            count = 2
        end
    end
    if count > 1 then
        return false, "several " .. name .. " parameters"
    end
    return one_value(values, "several " .. name .. " parameters")
end

-- request_token() with a cookie or query parameter to read as well.
local function request_token_of_sources(headers, options)
    local tokens, count, token = {}, 0, nil
    local function add(t, why)
        if t == false then
            return false, why
        end
        if t and not tokens[t] then
            tokens[t], count, token = true, count + 1, t
        end
        return true
    end
    local ok, why = add(authorization_token(headers["authorization"]))
    if not ok then
        return false, why
    end
    if options.cookie then
        ok, why = add(from_cookies(headers["cookie"], options.cookie))
        if not ok then
            return false, why
        end
    end
    if options.query then
        ok, why = add(from_query(ngx.var.args, options.query))
        if not ok then
            return false, why
        end
    end
    if count > 1 then
        return false, "several different tokens"
    end
    return token
end

-- The request's token (asgi.py TokenSource.token): nil when none; false and why when the
-- request is malformed or ambiguous (several different tokens, ...). (Apart from
-- request_token_of_sources: a function that makes a closure does not compile in LuaJIT 2.1,
-- and the common case, the Authorization header alone, should.)
local function request_token(headers, options)
    if options.cookie or options.query then
        return request_token_of_sources(headers, options)
    end
    return authorization_token(headers["authorization"])
end

-- The roles a token grants: the list or space-separated string at options.roles_claim; by
-- default the gateway's scopes: "scope" (space-separated) and "scp" (a list or a string).
-- Only SP separates (RFC 6749 §3.3), as policy.py token_scopes.
local function add_roles(out, value)
    if type(value) == "string" then
        for role in string.gmatch(value, "[^ ]+") do
            out[role] = true
        end
    elseif type(value) == "table" then
        for _, v in ipairs(value) do
            if type(v) == "string" then
                out[v] = true
            end
        end
    end
end

function _M.token_roles(claims, roles_claim)
    local out = {}
    if roles_claim then
        add_roles(out, _M.claim_at(claims, roles_claim))
    else
        add_roles(out, claims.scope)
        add_roles(out, claims.scp)
    end
    return out
end

local HEADER_NAME = "^[!#$%%&'*+%-.^_`|~0-9A-Za-z]+$"
local RESERVED_HEADERS = {
    ["content-length"] = true, ["transfer-encoding"] = true, connection = true, ["keep-alive"] = true,
    ["proxy-connection"] = true, te = true, trailer = true, upgrade = true, authorization = true,
    cookie = true, host = true,
}
-- Written into WWW-Authenticate's quoted strings: printable ASCII without '"' or backslash
-- (RFC 6749 scope-tokens: nor a space).
local function quotable(s, space)
    return not find(s, space and '[^\32-\126]' or '[^\33-\126]') and not find(s, '["\\]')
end
local ACCESS_OPTIONS = {
    realm = true, cookie = true, query = true, roles = true, roles_claim = true, claim_headers = true,
    optional = true, ctx_key = true,
}

--- Checks access()'s options; returns them (with defaults) or nil and what is wrong.
function _M.access_options(options)
    options = options or {}
    if type(options) ~= "table" then
        return nil, "the options must be a table"
    end
    for name in pairs(options) do
        if not ACCESS_OPTIONS[name] then
            return nil, "unknown option " .. tostring(name)
        end
    end
    local out = {
        realm = options.realm or "api",
        cookie = options.cookie,
        query = options.query,
        roles = options.roles or {},
        roles_claim = options.roles_claim,
        claim_headers = options.claim_headers or {},
        optional = options.optional or false,
        ctx_key = options.ctx_key,
    }
    if type(out.realm) ~= "string" or not quotable(out.realm, true) then
        return nil, "realm must be printable ASCII without quotes or backslashes"
    end
    for _, role in ipairs(out.roles) do
        if type(role) ~= "string" or role == "" or not quotable(role, false) then
            return nil, "roles must be printable ASCII without spaces, quotes or backslashes: " .. tostring(role)
        end
    end
    for header, path in pairs(out.claim_headers) do
        if type(header) ~= "string" or not find(header, HEADER_NAME) or RESERVED_HEADERS[lower(header)]
            or type(path) ~= "string" or path == "" then
            return nil, "claim_headers maps header names (not framing, hop-by-hop or credential headers) "
                .. "to claim paths: " .. tostring(header)
        end
    end
    for _, name in ipairs({ "cookie", "query", "roles_claim", "ctx_key" }) do
        if out[name] ~= nil and (type(out[name]) ~= "string" or out[name] == "") then
            return nil, name .. " must be a non-empty string"
        end
    end
    return out
end

local checked_options = setmetatable({}, { __mode = "k" }) -- options table -> checked copy
local NO_OPTIONS = {} -- stands for access(verifier) without options, checked once

-- What access() derives from a token's verified claims, per checked options and token: the
-- claims JSON, the claim headers' values and the missing roles (a repeated token skips the
-- claims' decoding and the headers' encoding). Filled only after the token verified, read
-- only after it verified again in this request (the library checks exp and nbf on every
-- request, cached token or not): a token maps to one claims JSON, and an entry holds nothing
-- but what follows from it and the options. Emptied at MEMO_MAX entries or MEMO_BYTES bytes.
local MEMO_MAX, MEMO_BYTES = 4096, 4 * 1024 * 1024

-- The memo entry for verified claims: their JSON, the claim headers' (name, value) pairs and
-- the missing roles (a space-separated list) or false.
local function derive(opts, claims, claims_json)
    local missing = false
    if #opts.roles > 0 then
        local granted, absent = _M.token_roles(claims, opts.roles_claim), {}
        for _, role in ipairs(opts.roles) do
            if not granted[role] then
                absent[#absent + 1] = role
            end
        end
        if #absent > 0 then
            missing = concat(absent, " ")
        end
    end
    local headers = {}
    for header, path in pairs(opts.claim_headers) do
        local value = _M.header_value(_M.claim_at(claims, path))
        if value ~= nil then
            headers[#headers + 1] = header
            headers[#headers + 1] = value
        end
    end
    return { missing = missing, headers = headers, json = claims_json }
end

--- In access_by_lua*: lets the request through when it carries a token `verifier` (a
-- verifier, or the name given to watch()) accepts, with the roles `options.roles` needs;
-- otherwise answers as turbojwt's Python gateway does and ends the request.
--
-- options: realm ("api"), cookie / query (also read the token from this cookie / query
-- parameter, as APISIX's jwt-auth can), roles (required roles: all of them) and roles_claim
-- (a dotted claim path holding a list or a space-separated string; default: the scope and
-- scp claims), claim_headers ({ ["X-Auth-Subject"] = "sub", ... }: set on the request to
-- the upstream, their client-sent copies removed), optional (a request without a token
-- passes), ctx_key (ngx.ctx[ctx_key] gets the claims, a table of this request's own; none by
-- default: decoding them for every request costs more than the rest of a cached request).
--
-- Answers: no token 401 (no error code); an invalid token 401 invalid_token with a fixed
-- description; a malformed or ambiguous request 400 invalid_request; missing roles 403
-- insufficient_scope with scope="<missing roles>"; no key loaded 503. A bad option is a
-- 500 and an error log (a configuration error).
function _M.access(verifier, options)
    options = options or NO_OPTIONS
    local opts = checked_options[options]
    if not opts then
        local err
        opts, err = _M.access_options(options)
        if not opts then
            ngx.log(ngx.ERR, "turbojwt.access: ", err)
            return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
        end
        opts.memo, opts.memo_count, opts.memo_bytes = {}, 0, 0
        -- (a list: a loop over pairs() does not compile in LuaJIT 2.1)
        opts.header_names = {}
        for header in pairs(opts.claim_headers) do
            opts.header_names[#opts.header_names + 1] = header
        end
        checked_options[options] = opts
    end
    -- Headers the upstream takes as verified: never the client's.
    local header_names = opts.header_names
    for i = 1, #header_names do
        ngx.req.clear_header(header_names[i])
    end
    local headers, truncated = ngx.req.get_headers(0)
    if truncated == "truncated" then
        return deny(opts.realm, 400, "invalid_request", "too many headers")
    end
    local token, why = request_token(headers, opts)
    if token == false then
        return deny(opts.realm, 400, "invalid_request", why)
    end
    if token == nil then
        if opts.optional then
            return
        end
        return deny(opts.realm, 401, nil, nil)
    end
    if type(verifier) == "string" then
        verifier = _M.verifier(verifier)
    end
    if getmetatable(verifier) ~= Verifier then
        ngx.log(ngx.ERR, "turbojwt.access: no verifier (no key loaded yet?)")
        return deny(opts.realm, 503, "temporarily_unavailable", "The signing keys are unavailable")
    end
    local err, name = verifier:run(token)
    local claims, entry
    if not err then
        entry = opts.memo[token]
        if entry then
            if opts.ctx_key then
                -- Each request its own table (a change one request makes never reaches the
                -- next), decoded from JSON cjson has read before.
                claims = json.decode(entry.json)
            end
        else
            local size = verifier.size
            local claims_json = ffi.string(lib.tj_result_claims(verifier.result, size), size[0])
            local decode_err
            claims, decode_err = json.decode(claims_json)
            if type(claims) ~= "table" then
                -- The library gave claims it parsed as a JSON object: cjson must read them too.
                err, name = "the claims cannot be decoded: " .. tostring(decode_err), "Panic"
            else
                entry = derive(opts, claims, claims_json)
                local bytes = #token + #claims_json
                if opts.memo_count >= MEMO_MAX or opts.memo_bytes + bytes > MEMO_BYTES then
                    opts.memo, opts.memo_count, opts.memo_bytes = {}, 0, 0
                end
                opts.memo[token] = entry
                opts.memo_count, opts.memo_bytes = opts.memo_count + 1, opts.memo_bytes + bytes
            end
        end
    end
    if err then
        -- The message can quote the token's header: no control or non-ASCII byte into the log.
        ngx.log(ngx.INFO, "turbojwt: token refused: ", name, ": ", (gsub(err, "[^\32-\126]", function(c)
            return format("\\x%02x", byte(c))
        end)))
        local status, error_code, description = _M.denial_for(name)
        return deny(opts.realm, status, error_code, description)
    end
    if entry.missing then
        return deny(opts.realm, 403, "insufficient_scope", "The token lacks a required scope", entry.missing)
    end
    local claim_headers = entry.headers
    for i = 1, #claim_headers, 2 do
        ngx.req.set_header(claim_headers[i], claim_headers[i + 1])
    end
    if opts.ctx_key then
        ngx.ctx[opts.ctx_key] = claims
    end
end

return _M
