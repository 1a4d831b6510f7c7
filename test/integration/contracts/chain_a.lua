-- First link of a chain by one author: calls chain_b, which another author wrote.
local M = {}
function M.run(args)
  local r = vl.call("chain_b", "run", { n = (args.n or 0) + 1 })
  return { a = true, inner = r }
end
return M
