local M = {}
function M.run(args)
  vl.require(args.n < 5, "chain_b refuses n >= 5")
  return { b = args.n }
end
return M
