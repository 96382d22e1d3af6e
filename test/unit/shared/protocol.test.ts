/** The protocol version members announce, and what a mixed set of them speaks (shared/wire/protocol.ts). */
import test from 'ava'
import { negotiatedProtocol, PROTOCOL_VERSION, protocolOfHeader, UNANNOUNCED_PROTOCOL } from '../../../shared/wire/protocol.js'

test('a set of members speaks the lowest version announced; one that announces none speaks 1; nobody speaks above this build', (t) => {
  t.is(negotiatedProtocol([]), PROTOCOL_VERSION)
  t.is(negotiatedProtocol([PROTOCOL_VERSION, PROTOCOL_VERSION]), PROTOCOL_VERSION)
  t.is(negotiatedProtocol([PROTOCOL_VERSION, undefined, PROTOCOL_VERSION]), UNANNOUNCED_PROTOCOL)
  t.is(negotiatedProtocol([PROTOCOL_VERSION + 5]), PROTOCOL_VERSION)
  for (let lowest = 1; lowest <= PROTOCOL_VERSION; lowest++) t.is(negotiatedProtocol([PROTOCOL_VERSION, lowest, PROTOCOL_VERSION + 1]), lowest)
})

test('the RPC upgrade header: a version, or 1 when absent or malformed', (t) => {
  t.is(protocolOfHeader(String(PROTOCOL_VERSION)), PROTOCOL_VERSION)
  for (const bad of [undefined, '', 'two', '0', '-3', '1.5', '99999999']) t.is(protocolOfHeader(bad), UNANNOUNCED_PROTOCOL, String(bad))
})
