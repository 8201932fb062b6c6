/** Broker version reported in $SYS/broker/version. Keep in step with package.json. */
export const VERSION = '0.1.0';
