local M = {}
function M.greet(args)
  return { hello = args.name, version = 2 }
end
return M
