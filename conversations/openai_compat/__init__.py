"""The OpenAI-compatible endpoint: `/v1/chat/completions` and `/v1/models`.

For clients that speak the OpenAI API through its SDKs (base_url
`http://host/v1`, an API key as the api_key). A completion is a chat like
`POST /api/v1/chat/`: the same reservation, provider call, settlement and
refund (conversations.services.chat), in OpenAI's request, response, chunk
and error shapes. docs/openai.md says how the request maps onto a chat.
"""
