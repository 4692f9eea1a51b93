// Package openstack syncs Nova servers, with the options, host vars and
// legacy groups of the openstack.cloud.openstack Ansible inventory plugin
// (2.x), through gophercloud.
//
// # Clouds and credentials
//
// A source syncs one or more clouds. Where they come from:
//
//   - clouds: clouds.yaml entries pasted into the source (auth,
//     auth_type, region_name, regions, interface, identity_api_version,
//     verify, cacert), without their secrets;
//   - auth (with auth_type, region_name, interface): one cloud inline, as
//     the openstack.cloud modules take it, named by cloud ("openstack"
//     when not set);
//   - otherwise every cloud of the first clouds.yaml found (the files of
//     clouds_yaml_path, $OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
//     ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml), with
//     secure.yaml merged over it, plus the cloud of the OS_* variables,
//     named "envvars" ($OS_CLOUD_NAME), as the plugin does.
//
// only_clouds picks among them. A cloud of the source with the name of a
// file's cloud is merged over it.
//
// Secrets are never part of a source: password, application credential
// secret and token options are refused. At sync time a cloud's secret
// comes from, in order: Driver.Credentials (the credential broker; the
// demo and tests), the clouds.yaml / secure.yaml it was read with, and
// OS_PASSWORD / OS_APPLICATION_CREDENTIAL_SECRET. A file's secret is only
// sent to that file's auth_url and the variables' only to OS_AUTH_URL: a
// source cannot redirect them elsewhere.
//
// Authentication is Keystone v3 with a password (user by name and domain,
// or by id; project by name and domain, or by id) or an application
// credential (by id, or by name with its user). Tokens are re-issued when
// Nova refuses them (expiry mid-pagination included).
//
// # Scopes
//
// A scope is a (cloud, region, project), named "cloud/region/project", or
// "cloud/region/*" with all_projects. Regions are the regions option, else
// the cloud's regions / region_name (only the first with only_clouds, as
// the plugin's openstacksdk get_one does), else every region of its
// catalog with a compute endpoint. Projects are the projects option, else the
// cloud's project (from the token for application credentials). Each
// project has its own token; scopes are fetched concurrently (concurrency,
// default 8), each all or nothing: a failed scope keeps its hosts.
//
// Per scope: the compute endpoint's version document (the microversion is
// the cloud's highest up to 2.96, as openstacksdk negotiates), then
// servers/detail paged with limit and marker. Like the plugin, nothing
// else: images and flavors are what Nova embeds in each server. Next
// links are not followed as given: their query is applied to the
// catalog's endpoint, so a rewritten host never receives a token. 413, 429, 502, 503, 504 and network errors are retried with
// jittered exponential backoff honouring Retry-After, bounded by
// Driver.MaxRetries and Driver.MaxBackoff.
//
// # Options
//
// The plugin's: only_clouds, clouds_yaml_path, all_projects,
// server_filters (openstacksdk's or Nova's names: status, name, flavor,
// image, tags, any_tags, ipv4_address, availability_zone, ...; lists
// repeat the parameter, tag lists are joined with commas),
// inventory_hostname (name or uuid), legacy_groups (default true),
// private, only_ipv4, show_all, use_names, expand_hostvars (false only)
// and fail_on_errors (false only). Roster's: clouds, auth, auth_type,
// region_name, interface, cloud, regions, projects, concurrency. compose,
// groups, keyed_groups, strict and leading_separator are the construct
// step's.
//
// # Hosts
//
// A host's external id is the server id; it is enabled when the server is
// ACTIVE. It is named by the server's name, or by its id with
// inventory_hostname: uuid or when another server of the scope has the
// same name (the plugin's rule; across scopes the engine names the second
// by id, with a warning). Servers without any address are left out
// unless show_all.
//
// Host vars:
//
//   - openstack: the server as openstacksdk's Server.to_dict(computed=False)
//     gives it to the plugin: every Server attribute, null where Nova sent
//     nothing (id, name, status, addresses as Nova sends them,
//     availability_zone, metadata, tags, security_groups as Nova sends
//     them, key_name, project_id, created_at, power_state, is_locked,
//     the admin-only compute_host, ...); image as the whole image.v2 Image
//     (id and properties {links}; name null, since Nova embeds none);
//     flavor as the whole compute.v2 Flavor (from 2.47 name and id are the
//     original_name, with the sizes; before, id only and zero sizes);
//     attached_volumes, and again as volumes, as VolumeAttachments; plus
//     cloud: {name, region};
//   - ansible_host and ansible_ssh_host: the first floating address unless
//     private, else the first fixed one (IPv4 only with only_ipv4), or the
//     name with use_names; absent when there is none. It is also the
//     host's address.
//
// Legacy groups (legacy_groups: true): the cloud, the region, cloud_region,
// the metadata's group and its comma-separated groups, meta-KEY_VALUE per
// metadata item, instance-ID, flavor-NAME ("flavor-None" before 2.47),
// "image-None" (the plugin formats the image's null name), and the
// availability zone with region_AZ and cloud_region_AZ. They are not
// sanitised, as ansible-core keeps them by default.
package openstack
