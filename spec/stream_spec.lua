local helpers = require "helpers"
local migration = helpers.migration

-- Feeds text in the given chunk sizes and returns every event plus the page values.
local function stream(text, sizes)
  local decoder = migration.page_decoder()
  local events, pos, i = {}, 1, 1
  while pos <= #text do
    local size = sizes[(i - 1) % #sizes + 1]
    decoder:feed(text:sub(pos, pos + size - 1))
    pos, i = pos + size, i + 1
    for event in decoder.next_event, decoder do
      events[#events + 1] = event
    end
  end
  local next_link, context, extra = decoder:finish()
  return events, next_link, context, extra
end

local function assert_same_page(text, events, next_link, context)
  local expected, expected_link, expected_context = migration.decode_page(text)
  assert.are.equal(#expected, #events)
  for i = 1, #expected do
    assert.is_true(expected[i] == events[i], "event " .. i)
    assert.are.equal(expected[i]:to_json(), events[i]:to_json())
  end
  assert.are.equal(expected_link, next_link)
  assert.are.equal(expected_context, context)
end

describe("msgraph.migration page_decoder", function()
  it("yields what decode_page yields at every split point", function()
    -- Sample page B has escapes, multi-byte characters, an emoji, numbers and nested objects.
    local text = helpers.read("spec/fixtures/page-b.json")
    for split = 1, #text - 1 do
      local decoder = migration.page_decoder()
      decoder:feed(text:sub(1, split))
      decoder:feed(text:sub(split + 1))
      local events = {}
      for event in decoder.next_event, decoder do events[#events + 1] = event end
      local next_link, context = decoder:finish()
      assert_same_page(text, events, next_link, context)
    end
  end)

  it("splits inside escapes, surrogate pairs and numbers", function()
    local text = '{"value":[{"id":"a\\"b\\u00e9\\ud83d\\ude00 \240\159\147\132","@odata.type":'
      .. '"#microsoft.graph.migrationJobProgressEvent","bytesProcessed":-9223372036854775808,'
      .. '"x":[1.5e3,{"k":"\\\\"}]}],"@odata.nextLink":"n"}'
    for split = 1, #text - 1 do
      local events, next_link, context = stream(text, { split, #text })
      assert_same_page(text, events, next_link, context)
    end
    assert_same_page(text, stream(text, { 1 }))
  end)

  it("streams every fixture in one-byte and odd chunks", function()
    for _, path in ipairs(helpers.pages) do
      local text = helpers.read(path)
      assert_same_page(text, stream(text, { 1 }))
      assert_same_page(text, stream(text, { 7, 13, 64 }))
    end
  end)

  it("hands out events before the page ends", function()
    local decoder = migration.page_decoder()
    assert.are.equal(1, decoder:feed('{"value":[{"id":"a"},{"id":'))
    assert.are.equal("a", decoder:next_event().id)
    assert.is_nil(decoder:next_event())
    assert.are.equal(1, decoder:feed('"b"}]}'))
    assert.are.equal("b", decoder:next_event().id)
    assert.is_nil((decoder:finish()))
  end)

  it("names the JSON path and byte of errors", function()
    local decoder = migration.page_decoder()
    decoder:feed('{"value":[{},{"@odata.type":"#microsoft.graph.migrationJobStartEvent","isRes')
    assert.has_error(function() decoder:feed('tarted":"no"}]}') end,
      'value[1].isRestarted: expected Boolean, got "no"')
    assert.has_error(function() decoder:feed("]}") end, "the page decoder failed earlier and cannot continue")

    decoder = migration.page_decoder()
    decoder:feed('{"value":[{"id":"\195')
    assert.has_error(function() decoder:feed('"}]}') end, "invalid JSON at byte 19: invalid UTF-8")
  end)

  it("rejects an incomplete page at finish", function()
    local decoder = migration.page_decoder()
    decoder:feed('{"value":[{"id":"a"}')
    assert.has_error(function() decoder:finish() end, "invalid JSON at byte 21: unexpected end of input")
  end)

  it("rejects use after finish", function()
    local decoder = migration.page_decoder()
    decoder:feed('{"value":[]}')
    decoder:finish()
    assert.has_error(function() decoder:feed("x") end, "the page decoder is finished")
  end)

  it("each_event iterates a file in chunks", function()
    local file = assert(io.open("spec/fixtures/page-a.json", "rb"))
    local ids = {}
    local iterator, state = migration.each_event(file)
    for event in iterator do ids[#ids + 1] = event.id end
    file:close()
    assert.are.equal(5, #ids)
    assert.matches("skiptoken=NQ$", state.next_link)
    assert.has_error(function() migration.each_event(5) end,
      "bad argument #1 to 'each_event' (function or file expected, got number)")
    assert.has_error(function() migration.each_event(file) end,
      "bad argument #1 to 'each_event' (function or file expected, got closed file)")
    local wrong = migration.each_event(function() return {} end)
    assert.has_error(function() wrong() end, "each_event: the source returned a table, expected a string or nil")
  end)
end)
