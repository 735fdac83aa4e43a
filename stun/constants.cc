// Reason phrases recommended next to each error code in the RFCs.
#include "stun/constants.h"

namespace uturn::stun {

const char* DefaultReasonPhrase(int code) {
  switch (code) {
    // RFC 8489 §14.8
    case error::kTryAlternate: return "Try Alternate";
    case error::kBadRequest: return "Bad Request";
    // RFC 8489 §14.8 renamed RFC 5389's "Unauthorized".
    case error::kUnauthorized: return "Unauthenticated";
    case error::kUnknownAttribute: return "Unknown Attribute";
    case error::kStaleNonce: return "Stale Nonce";
    case error::kServerError: return "Server Error";
    // RFC 8656 §19
    case error::kForbidden: return "Forbidden";
    case error::kAllocationMismatch: return "Allocation Mismatch";
    case error::kAddressFamilyNotSupported: return "Address Family not Supported";
    case error::kWrongCredentials: return "Wrong Credentials";
    case error::kUnsupportedTransportProtocol: return "Unsupported Transport Protocol";
    case error::kPeerAddressFamilyMismatch: return "Peer Address Family Mismatch";
    case error::kAllocationQuotaReached: return "Allocation Quota Reached";
    case error::kInsufficientCapacity: return "Insufficient Capacity";
    // RFC 8445 §7.3.1.1
    case error::kRoleConflict: return "Role Conflict";
    default: return "";
  }
}

}  // namespace uturn::stun
