local M = {}
function M.f(args
  return 1
end
return M
