#include "app/cli/account_command.hpp"
#include "app/cli/command.hpp"
#include "app/cli/connector_command.hpp"
#include "app/cli/db_command.hpp"
#include "app/cli/dead_letters_command.hpp"
#include "app/cli/mapping_command.hpp"
#include "app/cli/outbox_command.hpp"

namespace ferry::cli {

const std::vector<Command>& store_commands() {
    static const std::vector<Command> commands = {db_command(),      connector_command(),
                                                  mapping_command(), account_command(),
                                                  outbox_command(),  dead_letters_command()};
    return commands;
}

} // namespace ferry::cli
