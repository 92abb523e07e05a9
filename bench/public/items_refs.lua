-- wrk script: the single item of a different cabin on every request (references read from
-- the file in $REFS, one a line), so a response cache cannot answer: the uncached cost.
-- psql … -At -c "SELECT reference FROM cabin WHERE status='active' ORDER BY random() LIMIT 20000" > /tmp/refs
-- REFS=/tmp/refs wrk -t2 -c50 -d20s -s bench/public/items_refs.lua http://127.0.0.1:8105
local refs = {}
for line in io.lines(os.getenv("REFS") or "/tmp/refs") do refs[#refs + 1] = line end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
request = function()
  return wrk.format("GET", "/ogc/collections/cabins/items/" .. refs[math.random(#refs)])
end
