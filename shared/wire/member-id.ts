/** A member id and a member address, with the rules of the command line (--id, --advertise, --seeds); shared by gossip and the ring record. */
import { z } from 'zod'
import { isMemberAddress, NODE_ID_RE } from '../names.js'

export const MemberIdSchema = z.string().regex(NODE_ID_RE, 'a member id: letters, digits, "-" and "_", at most 63')
export const MemberAddressSchema = z.string().max(300).refine(isMemberAddress, 'a member address: host:port')

/** Gossip digests (and ring records) are bounded so a bad peer cannot make a node allocate without limit. */
export const MAX_GOSSIP_MEMBERS = 2048
