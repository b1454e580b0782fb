-- Verifies tokens with resty.turbojwt in a standalone LuaJIT, for tests/lua: reads one JSON
-- object per line on stdin ({"id", "key_kind", "key_hex", "config", "token_hex", "at"}: the
-- bytes in hex, since keys and tokens need not be UTF-8) and writes one per line: {"id",
-- "ok": true, "claims": <the claims re-encoded by cjson>, "registered": {...}} or {"id", "ok":
-- false, "name", "message"}. Verifiers are made once per key and config.
-- Usage: luajit verdicts.lua <path of the lua/ directory> <path of libturbojwt.so>
package.path = arg[1] .. "/?.lua;" .. package.path
local turbojwt = require "resty.turbojwt"
local cjson = require "cjson"
-- NaN and infinities (Python's json reads them in claims) are written as null.
cjson.encode_invalid_numbers("null")
assert(turbojwt.library(arg[2]))

local function unhex(s)
    return (s:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end

local verifiers = {}
for line in io.lines() do
    local case = cjson.decode(line)
    local made_key = case.key_kind .. "\0" .. case.key_hex .. "\0" .. cjson.encode(case.config)
    local made = verifiers[made_key]
    if not made then
        local config = case.config
        config.key, config.key_kind = unhex(case.key_hex), case.key_kind
        local v, message, name = turbojwt.new(config)
        made = { verifier = v, message = message, name = name }
        verifiers[made_key] = made
    end
    local out = { id = case.id }
    if not made.verifier then
        out.ok, out.name, out.message = false, made.name, made.message
    else
        local token = unhex(case.token_hex)
        local at = case.at ~= cjson.null and case.at or nil
        local claims, message, name = made.verifier:verify(token, at)
        if claims then
            out.ok, out.claims = true, claims
            out.registered = made.verifier:verify_registered(token, at)
        else
            out.ok, out.name, out.message = false, name, message
        end
    end
    io.write(cjson.encode(out), "\n")
end
