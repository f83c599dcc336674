// UTF-8 well-formedness, for every parser of text from outside: CBOR text strings in evidence,
// MQTT strings and topics from leaves.
#pragma once

#include <string_view>

namespace edgetrust {

// True when `text` is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or values past
// U+10FFFF). NUL is well-formed; callers that forbid it check it themselves.
bool IsValidUtf8(std::string_view text);

}  // namespace edgetrust
