-- POST /api/api-keys: a key is created, audited and its lifecycle event written each time.
local n = 0

request = function()
  n = n + 1
  return wrk.format("POST", nil, json_headers(),
    '{"name": "bench ' .. n .. '"}')
end

-- wrk.format replaces the command line's -H headers with the table it is given: keep them.
function json_headers()
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["Content-Type"] = "application/json"
  return headers
end
