package aws

import (
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/rosterhq/roster/sources/construct"
)

// hostVars turns an SDK instance into the host vars the aws_ec2 plugin
// emits: the boto3 instance dict passed through camel_dict_to_snake_dict
// (tags kept as a dict), the reservation's owner/requester/reservation ids,
// and placement.region.
func hostVars(inst *types.Instance, res *types.Reservation, o *Options) map[string]any {
	vars := toSnake(reflect.ValueOf(inst).Elem()).(map[string]any)
	vars["owner_id"] = deref(res.OwnerId)
	vars["requester_id"] = deref(res.RequesterId)
	vars["reservation_id"] = deref(res.ReservationId)

	tags := make(map[string]any, len(inst.Tags))
	for _, t := range inst.Tags {
		tags[deref(t.Key)] = deref(t.Value)
	}
	vars["tags"] = tags
	if p, ok := vars["placement"].(map[string]any); ok {
		if az, ok := p["availability_zone"].(string); ok && az != "" {
			p["region"] = az[:len(az)-1] // the plugin's rule, local zones included
		}
	}
	if o.UseContribScriptCompatibleEC2TagKeys {
		for k, v := range tags {
			vars["ec2_tag_"+k] = v
		}
	}
	return vars
}

var (
	timeType = reflect.TypeFor[time.Time]()
	fieldsOf sync.Map // reflect.Type → []field
)

type field struct {
	index int
	name  string
}

// toSnake converts an SDK value the way boto3 data passes through
// camel_dict_to_snake_dict: struct fields become snake_case keys, absent
// (nil) members are left out, enums are strings. Times are datetimes, as
// boto3 parses every timestamp member of the EC2 model (launch_time,
// usage_operation_update_time, the attach_time of block_device_mappings[].ebs,
// network_interfaces[].attachment and secondary_interfaces[].attachment,
// elastic_inference_accelerator_associations[]'s association time): the
// construct step sees Python datetimes, the stored vars their isoformat().
func toSnake(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return toSnake(v.Elem())
	case reflect.Struct:
		if v.Type() == timeType {
			return construct.NewDatetime(v.Interface().(time.Time))
		}
		fields := structFields(v.Type())
		m := make(map[string]any, len(fields))
		for _, f := range fields {
			fv := v.Field(f.index)
			if isAbsent(fv) {
				continue
			}
			m[f.name] = toSnake(fv)
		}
		return m
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		list := make([]any, v.Len())
		for i := range list {
			list[i] = toSnake(v.Index(i))
		}
		return list
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return nil
}

func isAbsent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0 // unset enum
	}
	return false
}

func structFields(t reflect.Type) []field {
	if f, ok := fieldsOf.Load(t); ok {
		return f.([]field)
	}
	var fields []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() || sf.Name == "Tags" && t == reflect.TypeFor[types.Instance]() {
			continue
		}
		fields = append(fields, field{index: i, name: camelToSnake(sf.Name)})
	}
	fieldsOf.Store(t, fields)
	return fields
}

var (
	pluralAbbrev = regexp.MustCompile(`[A-Z]{3,}s$`)
	firstCap     = regexp.MustCompile(`(.)([A-Z][a-z]+)`)
	allCap       = regexp.MustCompile(`([a-z0-9])([A-Z]+)`)
)

// camelToSnake is ansible's _camel_to_snake (reversible=False): plural
// abbreviations such as TargetGroupARNs become target_group_arns.
func camelToSnake(name string) string {
	s1 := pluralAbbrev.ReplaceAllStringFunc(name, func(m string) string { return "_" + strings.ToLower(m) })
	if strings.HasPrefix(s1, "_") && !strings.HasPrefix(name, "_") {
		s1 = s1[1:]
	}
	s2 := firstCap.ReplaceAllString(s1, "${1}_${2}")
	return strings.ToLower(allCap.ReplaceAllString(s2, "${1}_${2}"))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
