/** Where the helper works on an installed gateway (docs/appliance.md "Installed layout"); its flags override them. */
export const DEFAULT_INSTALL_DIR = '/opt/pleevi-edge';
export const DEFAULT_STOP_COMMAND = 'systemctl stop pleevi-edge.service';
export const DEFAULT_START_COMMAND = 'systemctl start --no-block pleevi-edge.service';
