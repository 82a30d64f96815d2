-- POST /api/auth/refresh with a fresh refresh token each time: a refresh token is one-time,
-- and replaying one would revoke its whole sign-in. Args: the file of tokens, one a line.
local tokens = {}
local next_index = 1

init = function(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
end

request = function()
  local token = tokens[next_index]
  if token == nil then
    token = "rt_exhausted"  -- counted as a non-2xx answer: the run needs more tokens
  end
  next_index = next_index + 1
  return wrk.format("POST", nil, json_headers(),
    '{"refresh_token": "' .. token .. '"}')
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
