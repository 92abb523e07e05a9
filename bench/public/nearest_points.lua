-- wrk script: `nearest` at a different point on every request (uniform over greater Paris,
-- rounded to 1e-5 degree), so a response cache cannot answer: the uncached cost.
-- wrk -t2 -c50 -d20s -s bench/public/nearest_points.lua http://127.0.0.1:8105
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
request = function()
  local lat = 48.70 + math.random() * 0.30
  local lon = 2.10 + math.random() * 0.50
  return wrk.format("GET", string.format(
    "/public/cabins/nearest?lat=%.5f&lon=%.5f&limit=10&needs=wheelchair", lat, lon))
end
