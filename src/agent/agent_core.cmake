# The daemon edgetrust-agent: leaf hub, enrollment, wiring of queue, cloud link and control.
# The configuration parser on its own, for its fuzz target.
add_library(et_agent_config STATIC agent_config.cc)
et_target(et_agent_config)
target_link_libraries(et_agent_config PUBLIC et_common PkgConfig::TOMLPP)

add_library(et_agent STATIC enroller.cc leaf_session.cc leaf_hub.cc
  agent.cc)
et_target(et_agent)
target_compile_definitions(et_agent PRIVATE EDGETRUST_VERSION="${PROJECT_VERSION}")
target_link_libraries(et_agent PUBLIC et_agent_config et_agent_control et_mqtt et_store et_cloud et_identity
  et_container_guard et_docker
  libedgetrust et_common spdlog::spdlog PkgConfig::TOMLPP nlohmann_json::nlohmann_json
  OpenSSL::SSL Threads::Threads)

add_executable(edgetrust-agent main.cc)
et_target(edgetrust-agent)
target_link_libraries(edgetrust-agent PRIVATE et_agent CLI11::CLI11)
