-- A participant contract: counts greetings per caller.
local M = {}
function M.greet(args)
  vl.require(type(args.name) == "string", "name must be a string")
  local n = vl.get("greet/" .. vl.creator()) or 0
  -- participant keys live outside the system prefixes
  return { hello = args.name, version = 1, seen = n }
end
return M
