"""WeCube processes: WeCube v4 JSON exports, v2/v3 .pds exports and BPMN 2.0 drawings, validated and stored."""
