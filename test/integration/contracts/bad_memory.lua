local M = {}
function M.f(args)
  local s = "xxxxxxxxxxxxxxxx"
  for i = 1, 64 do s = s .. s end
  return #s
end
return M
