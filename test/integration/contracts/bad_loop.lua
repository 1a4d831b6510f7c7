local M = {}
function M.f(args)
  while true do end
end
function M.caught(args)
  -- an out-of-gas abort cannot be caught
  local ok = pcall(function() while true do end end)
  vl.put("escaped", ok)
  return ok
end
return M
