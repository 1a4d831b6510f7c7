-- burst.lua — the reactor benchmark's load (bench/reactors/bench_reactors.sh):
-- tick {n, from} emits n "bench.tick" events, each numbered; ack {k} is the
-- follow-up a rule proposes for one of them, writing bench_ack/<k> (distinct
-- keys: the follow-ups never conflict with each other).
local M = {}

function M.tick(args)
  for k = args.from, args.from + args.n - 1 do vl.emit("bench.tick", { k = k }) end
  return { emitted = args.n }
end

function M.ack(args)
  vl.put("bench_ack/" .. string.format("%08d", args.k), { k = args.k, at = vl.now() })
  return { k = args.k }
end

-- The rule: every tick gets its ack.
function M.react(ctx)
  return { contract = "burst", ["function"] = "ack", args = { k = ctx.event.payload.k } }
end

return M
