local M = {}
function M.os(args) return os.time() end
function M.io(args) return io.open("/etc/passwd") end
function M.load(args) return load("return 1")() end
function M.dump(args) return string.dump(M.os) end
function M.meta(args) setmetatable(_G, {}) return 1 end
function M.debug(args) return debug.getinfo(1) end
function M.float(args) vl.put("greet/x", 1.5) return 1 end
function M.recurse(args) local function r(n) return r(n + 1) + 1 end return r(1) end
return M
