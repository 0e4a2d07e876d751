-- POST a small chat completion with the key from $KEY.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.body = '{"model": "mock-small", "messages": [{"role": "user", "content": "Say hello to the load test"}]}'
