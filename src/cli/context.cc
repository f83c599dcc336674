#include "cli/context.h"

namespace edgetrust::cli {

Result<Client*> Context::client() {
  if (!client_) {
    ET_ASSIGN_OR_RETURN(client_, Client::Connect(options_.socket));
  }
  return client_.get();
}

}  // namespace edgetrust::cli
