-- lender_terms.lua — an organisation's own endorsement rule for the trust
-- tests (node.json "endorsement_rules"): the lender's node signs a wallet
-- transfer only up to 500 cents; a refusal is an error with the reason.
local M = {}

function M.endorse(ctx)
  if ctx.contract == "wallet" and ctx["function"] == "transfer" and ctx.args.cents > 500 then
    error("transfers over 500 cents need a loan officer")
  end
  return true
end

return M
