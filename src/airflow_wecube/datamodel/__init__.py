"""WeCube's data model: entity expressions, their evaluation over a CMDB plugin's entity API, entity-bound inputs."""
